// How kiln-admin reaches the control plane: the target and admin credential from --target and
// --admin_token_file, or from a local `tools/dev up --data-dir DIR` deployment (DIR/control.ready
// names the port, DIR/admin-token holds the credential), and the per-call context carrying them.
// With --tls_ca_file the channel is TLS; --tls_cert_file and --tls_key_file add a client
// certificate (mutual TLS), which is a credential of its own.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "services/admin/args.h"

namespace kiln::admin {

class ControlClient {
 public:
  // FAILED_PRECONDITION, saying which option to give, when neither --target nor --data-dir
  // leads to an address, no admin token can be read and no client certificate is given, or a
  // TLS file is missing or not the PEM it should be.
  static absl::StatusOr<ControlClient> FromArgs(const Args& args);

  control::v1::ControlService::Stub& stub() { return *stub_; }
  // A context with the deadline, the credential and "x-kiln-actor: user@host".
  std::unique_ptr<grpc::ClientContext> Context() const;

 private:
  ControlClient(std::unique_ptr<control::v1::ControlService::Stub> stub, std::string token,
                absl::Duration timeout)
      : stub_(std::move(stub)), token_(std::move(token)), timeout_(timeout) {}
  std::unique_ptr<control::v1::ControlService::Stub> stub_;
  std::string token_;
  absl::Duration timeout_;
};

}  // namespace kiln::admin
