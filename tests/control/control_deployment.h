// kiln-control's service over in-process metadata and block-store servers on memory backends (a
// testing::Mesh without merge), served on a loopback port: the wiring that control_service_test,
// export_test and mtls_test share. Build, use and destroy on the test thread.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/shards.h"
#include "grpcpp/security/server_credentials.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "services/control/control_service.h"
#include "tests/integration/mesh.h"
#include "tests/support/test_support.h"

namespace kiln::control {

inline constexpr char kAdminToken[] = "test-admin-token-0123456789";

struct ControlDeploymentOptions {
  // The bearer token the service accepts as the admin credential; empty for none.
  std::string admin_token = kAdminToken;
  // Whether a verified client certificate is an admin credential of its own (mutual TLS).
  bool client_certificates = false;
  // Signs IssueToken's tokens when set; not owned, must outlive the deployment.
  const TokenIssuer* issuer = nullptr;
  // TLS for the control server; plain when null.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

class ControlDeployment {
 public:
  explicit ControlDeployment(const ControlDeploymentOptions& options = {}) {
    metadata_stub =
        metadata::v1::MetadataService::NewStub(testing::LoopbackChannel(mesh.metadata_target()));
    auth = std::make_unique<AdminAuth>(*AdminAuth::Create(
        options.admin_token, {.client_certificates = options.client_certificates}));
    audit = *AuditLog::Open("");
    ledgers =
        std::make_unique<LedgerAdmin>(MetadataShards(), BlockStoreShards(), absl::Seconds(10));
    exporter =
        std::make_unique<LedgerExporter>(MetadataShards(), BlockStoreShards(), absl::Seconds(10));
    service = std::make_unique<ControlServiceImpl>(ControlServiceOptions{}, *auth, *ledgers,
                                                   *exporter, *audit, options.issuer, "",
                                                   RealClock::Get(), executor, metrics.registry());
    ServerOptions server_options;
    server_options.credentials = options.credentials;
    server = *GrpcServer::Start(server_options, {service.get()}, metrics);
    if (options.credentials == nullptr) {
      stub = v1::ControlService::NewStub(testing::LoopbackChannel(target()));
    }
  }
  ~ControlDeployment() { server->Shutdown(); }

  // The control server's address, "127.0.0.1:<port>".
  std::string target() const { return "127.0.0.1:" + std::to_string(server->port()); }

  testing::Mesh mesh{/*merges=*/0};
  std::unique_ptr<metadata::v1::MetadataService::Stub> metadata_stub;
  BoundedExecutor executor{{.threads = 4, .max_queued = 256}};
  std::unique_ptr<AdminAuth> auth;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<LedgerAdmin> ledgers;
  std::unique_ptr<LedgerExporter> exporter;
  Metrics metrics;
  std::unique_ptr<ControlServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  // A plain loopback stub to the control server; null when it serves TLS.
  std::unique_ptr<v1::ControlService::Stub> stub;

 private:
  ShardedChannels MetadataShards() const {
    return ShardedChannels(testing::LoopbackChannel(mesh.metadata_target()));
  }
  ShardedChannels BlockStoreShards() const {
    return ShardedChannels(testing::LoopbackChannel(mesh.blockstore_target()));
  }
};

}  // namespace kiln::control
