#include "services/control/admin_auth.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tls_credentials.h"

namespace kiln::control {

absl::StatusOr<AdminAuth> AdminAuth::Create(absl::string_view token, AdminAuthOptions options) {
  token = absl::StripAsciiWhitespace(token);
  if (token.empty() && options.client_certificates) return AdminAuth("", options);
  if (token.size() < kMinAdminTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the admin token must be at least ", kMinAdminTokenBytes,
                     " characters (make one with `openssl rand -hex 32`)"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("the admin token must be printable ASCII without spaces");
    }
  }
  return AdminAuth(std::string(token), options);
}

absl::Status AdminAuth::Check(const grpc::ServerContextBase& context) const {
  if (options_.client_certificates) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr && PeerHasVerifiedClientCertificate(*auth)) return absl::OkStatus();
    if (token_.empty()) {
      return absl::UnauthenticatedError(
          "the control API needs a TLS client certificate signed by the operator's CA");
    }
  }
  return CheckToken(context);
}

absl::Status AdminAuth::CheckToken(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto range = metadata.equal_range("authorization");
  if (range.first == range.second) {
    return absl::UnauthenticatedError(
        "the control API needs the admin credential: send \"authorization: Bearer <token>\" "
        "(kiln-admin reads it from --admin_token_file or <data-dir>/admin-token)");
  }
  if (std::next(range.first) != range.second) {
    return absl::UnauthenticatedError("send one authorization header, not several");
  }
  absl::string_view value(range.first->second.data(), range.first->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(value, kBearer)) {
    return absl::UnauthenticatedError("the authorization header must be \"Bearer <token>\"");
  }
  value.remove_prefix(kBearer.size());
  // Length first (it is not secret: every deployment's token length is the same order), then a
  // comparison whose time does not depend on where the bytes differ.
  if (value.size() != token_.size() ||
      CRYPTO_memcmp(value.data(), token_.data(), token_.size()) != 0) {
    return absl::UnauthenticatedError("the admin token is wrong");
  }
  return absl::OkStatus();
}

}  // namespace kiln::control
