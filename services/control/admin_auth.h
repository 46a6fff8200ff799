// The admin credential of the control plane: a bearer token the operator keeps in a file (a
// Kubernetes Secret in a cluster), presented by every control RPC as gRPC metadata
// "authorization: Bearer <token>", and/or a TLS client certificate signed by the operator's CA
// (mutual TLS: kiln-control --tls_client_ca_file; the handshake already refuses any other
// client). Anything else is refused with UNAUTHENTICATED.
//
// Threading: immutable after Create; Check may be called from any thread.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace kiln::control {

// Tokens shorter than this are refused at startup (a guessable credential is worse than none).
inline constexpr size_t kMinAdminTokenBytes = 16;

struct AdminAuthOptions {
  // Accept a caller whose TLS client certificate the server verified. Set only when the server's
  // credentials require and verify client certificates (TlsServerPem.client_ca).
  bool client_certificates = false;
};

class AdminAuth {
 public:
  // `token`: the bearer credential (surrounding whitespace is ignored); may be empty only with
  // options.client_certificates. INVALID_ARGUMENT when it is shorter than kMinAdminTokenBytes or
  // has characters outside printable ASCII, or when neither credential is enabled.
  static absl::StatusOr<AdminAuth> Create(absl::string_view token, AdminAuthOptions options = {});

  // OK when the caller presented a verified client certificate (with client_certificates) or
  // `context` carries exactly "authorization: Bearer <token>"; UNAUTHENTICATED, saying what is
  // missing, otherwise (the message never contains what the caller sent). The token comparison
  // takes the same time wherever the presented token differs.
  absl::Status Check(const grpc::ServerContextBase& context) const;

 private:
  AdminAuth(std::string token, AdminAuthOptions options)
      : token_(std::move(token)), options_(options) {}
  absl::Status CheckToken(const grpc::ServerContextBase& context) const;

  std::string token_;  // empty: no bearer token is accepted
  AdminAuthOptions options_;
};

}  // namespace kiln::control
