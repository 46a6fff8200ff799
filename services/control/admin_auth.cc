#include "services/control/admin_auth.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kiln::control {

absl::StatusOr<AdminAuth> AdminAuth::Create(absl::string_view token) {
  token = absl::StripAsciiWhitespace(token);
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
  return AdminAuth(std::string(token));
}

absl::Status AdminAuth::Check(const grpc::ServerContextBase& context) const {
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
