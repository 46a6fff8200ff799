// Server bootstrap shared by every Kiln service: one gRPC server with the given services, the
// standard health service (grpc.health.v1, SERVING while up), reflection, per-RPC metrics, and a
// graceful shutdown that drains in-flight RPCs within a deadline.
//
// Threading: Start/Shutdown/Wait may be called from any thread; signal helpers are meant for main.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/support/channel_arguments.h"

namespace kiln {

struct ServerOptions {
  // Where gRPC listens, e.g. "127.0.0.1:7101"; port 0 picks a free port (see GrpcServer::port).
  std::string grpc_address = "127.0.0.1:0";
  // How long Shutdown lets in-flight RPCs finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Largest message the server accepts, in bytes.
  int max_receive_message_bytes = 8 << 20;
  // When positive, clients are asked (GOAWAY) to reconnect after this long, with in-flight calls
  // given shutdown_grace to finish. Clients then re-resolve DNS, so replicas added behind a
  // headless Service start receiving calls.
  absl::Duration max_connection_age = absl::ZeroDuration();
  // How the listening port is secured; null is plaintext (grpc::InsecureServerCredentials).
  // common/tls_credentials.h makes TLS and mutual-TLS ones.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

class GrpcServer {
 public:
  // Builds and starts the server with `services` (not owned; they must outlive the server) and
  // records per-RPC metrics into `metrics`. Returns UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services, Metrics& metrics);
  ~GrpcServer();

  // The bound port.
  int port() const { return port_; }

  // Marks the server NOT_SERVING, stops accepting RPCs, waits up to the grace period for
  // in-flight RPCs, then cancels the rest. Idempotent.
  void Shutdown();

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, absl::Duration grace);

  std::unique_ptr<grpc::Server> server_;
  int port_;
  absl::Duration grace_;
  bool shut_down_ = false;
};

// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts afterwards, so that
// WaitForTerminationSignal can receive them. Call first thing in main, before any thread exists.
void BlockTerminationSignals();

// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForTerminationSignal();

// Writes "name=port" lines and a final "ready" line to `path` atomically (write + rename), so
// scripts and tests can learn ports chosen at run time. Returns UNAVAILABLE when it cannot write.
absl::Status WriteReadyFile(const std::string& path,
                            const std::vector<std::pair<std::string, int>>& ports);

// Keeps glibc malloc from returning memory to the kernel and from serving large blocks with
// mmap, which otherwise makes every 1 MiB buffer a fresh set of page faults (measured: two thirds
// of the block-store's CPU under concurrent 1 MiB gets). Call once at the start of main.
void TuneMalloc();

// Initializes logging (glog to stderr) for a service binary.
void InitLogging(const char* argv0);

}  // namespace kiln
