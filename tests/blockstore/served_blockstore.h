// A BlockStoreServiceImpl over a test's backend, served by an in-process gRPC server on a
// loopback port, with a stub that dials it: the setup the block-store service tests share. Use
// from the test thread; the service does its storage work on its own executor.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "services/blockstore/blockstore_service.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore::testing {

class ServedBlockStore {
 public:
  struct Options {
    BlockStoreServiceOptions service;
    BoundedExecutor::Options executor;
    // The largest message the server takes, and the stub.
    int server_max_receive_bytes = ServerOptions().max_receive_message_bytes;
    int stub_max_receive_bytes = 64 << 20;
  };

  // Stops the server, then frees in dependency order: the executor's threads finish before the
  // service they run work for goes away.
  ~ServedBlockStore() {
    Shutdown();
    stub_.reset();
    server_.reset();
    executor_.reset();
    service_.reset();
  }

  // Serves `backend` (not owned; it must outlive this object). Returns the error of
  // GrpcServer::Start.
  absl::Status Start(BlockBackend& backend, const Options& options) {
    executor_ = std::make_unique<BoundedExecutor>(options.executor);
    service_ = std::make_unique<BlockStoreServiceImpl>(options.service, backend, *executor_,
                                                       metrics_.registry());
    ServerOptions server_options;
    server_options.max_receive_message_bytes = options.server_max_receive_bytes;
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start(server_options, {service_.get()}, metrics_);
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    stub_ = v1::BlockStoreService::NewStub(kiln::testing::LoopbackChannel(
        "127.0.0.1:" + std::to_string(server_->port()), options.stub_max_receive_bytes));
    return absl::OkStatus();
  }

  // Stops serving (once Start succeeded); every finished RPC is then counted in the metrics.
  void Shutdown() {
    if (server_ != nullptr) server_->Shutdown();
  }

  v1::BlockStoreService::Stub& stub() { return *stub_; }
  Metrics& metrics() { return metrics_; }

 private:
  Metrics metrics_;
  std::unique_ptr<BoundedExecutor> executor_;
  std::unique_ptr<BlockStoreServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::BlockStoreService::Stub> stub_;
};

}  // namespace kiln::blockstore::testing
