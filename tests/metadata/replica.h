// One in-process metadata replica on a shared backend, wired as kiln-metadata's main wires one
// (its own connection pool, LedgerStore, WatchHub and LogFollower, a real gRPC server on a
// loopback port), so several of them on one PostgreSQL database behave as several processes.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "common/aead.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/log_follower.h"
#include "services/metadata/metadata_service.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {

struct MetadataReplica {
  MetadataReplica(const std::string& url, absl::Duration poll_interval) {
    auto opened = KvBackendRegistry().Create(url);
    EXPECT_TRUE(opened.ok()) << opened.status();
    kv = *std::move(opened);
    store = std::make_unique<LedgerStore>(
        *kv, sealer, RealClock::Get(),
        [this](const LedgerRef& ledger, std::shared_ptr<const v1::WatchEvent> e) {
          follower->OnLocalCommit(ledger, std::move(e));
        });
    follower = std::make_unique<LogFollower>(*store, hub, kv->NewCommitHints(),
                                             LogFollowerOptions{.poll_interval = poll_interval});
    service = std::make_unique<MetadataServiceImpl>(MetadataServiceOptions{}, *store, hub, executor,
                                                    metrics.registry(), follower.get());
    auto started = GrpcServer::Start(ServerOptions{}, {service.get()}, metrics);
    EXPECT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    stub = v1::MetadataService::NewStub(kiln::testing::LoopbackChannel(target()));
  }
  ~MetadataReplica() {
    server->Shutdown();
    executor.Shutdown();
    follower.reset();
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(server->port()); }

  std::unique_ptr<KvBackend> kv;
  KeySealer sealer = *KeySealer::Create(std::string(32, 'k'));
  WatchHub hub;
  std::unique_ptr<LedgerStore> store;
  std::unique_ptr<LogFollower> follower;
  BoundedExecutor executor{{.threads = 8, .max_queued = 1024}};
  Metrics metrics;
  std::unique_ptr<MetadataServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::MetadataService::Stub> stub;
};

}  // namespace kiln::metadata
