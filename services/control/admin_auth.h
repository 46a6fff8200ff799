// The admin credential of the control plane: a bearer token the operator keeps in a file (a
// Kubernetes Secret in a cluster). Every control RPC presents it as gRPC metadata
// "authorization: Bearer <token>"; anything else is refused with UNAUTHENTICATED.
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

class AdminAuth {
 public:
  // `token`: the credential (surrounding whitespace is ignored). INVALID_ARGUMENT when it is
  // shorter than kMinAdminTokenBytes or has characters outside printable ASCII.
  static absl::StatusOr<AdminAuth> Create(absl::string_view token);

  // OK when `context` carries exactly "authorization: Bearer <token>"; UNAUTHENTICATED, saying
  // what is missing, otherwise (the message never contains what the caller sent). The comparison
  // takes the same time wherever the presented token differs.
  absl::Status Check(const grpc::ServerContextBase& context) const;

 private:
  explicit AdminAuth(std::string token) : token_(std::move(token)) {}
  std::string token_;
};

}  // namespace kiln::control
