// An in-process Kiln mesh for tests (tests/integration: it wires several services): block-store and
// metadata on memory backends and several merge instances, each a real gRPC server on a loopback
// port, wired through real gRPC channels.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/aead.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "kiln/merge/v1/merge.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "services/blockstore/blockstore_service.h"
#include "services/blockstore/memory_backend.h"
#include "services/merge/grpc_peers.h"
#include "services/merge/merge_service.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/metadata_service.h"
#include "tests/integration/merge_instance.h"
#include "tests/support/test_support.h"

namespace kiln::testing {

class Mesh {
 public:
  explicit Mesh(int merges) {
    blockstore_ = std::make_unique<blockstore::BlockStoreServiceImpl>(
        blockstore::BlockStoreServiceOptions{}, blocks_, executor_, blockstore_metrics_.registry());
    blockstore_server_ =
        *GrpcServer::Start(ServerOptions{}, {blockstore_.get()}, blockstore_metrics_);
    metadata_ = std::make_unique<metadata::MetadataServiceImpl>(
        metadata::MetadataServiceOptions{}, store_, hub_, executor_, metadata_metrics_.registry());
    metadata_server_ = *GrpcServer::Start(ServerOptions{}, {metadata_.get()}, metadata_metrics_);
    for (int i = 0; i < merges; ++i) {
      merges_.push_back(
          std::make_unique<MergeInstance>(LoopbackChannel(Target(blockstore_server_->port())),
                                          LoopbackChannel(Target(metadata_server_->port()))));
    }
    metadata_stub_ =
        metadata::v1::MetadataService::NewStub(LoopbackChannel(Target(metadata_server_->port())));
  }

  ~Mesh() {
    for (auto& m : merges_) m->Shutdown();
    metadata_server_->Shutdown();
    blockstore_server_->Shutdown();
  }

  merge::v1::MergeService::Stub& merge(int i) { return merges_[i]->stub(); }
  // Loopback targets of the block-store and metadata servers (for other clients of the mesh).
  std::string blockstore_target() const { return Target(blockstore_server_->port()); }
  std::string metadata_target() const { return Target(metadata_server_->port()); }
  // The metadata backend itself, to check what is stored without the API.
  metadata::KvBackend& kv() { return *kv_; }
  metadata::v1::MetadataService::Stub& metadata() { return *metadata_stub_; }
  blockstore::MemoryBlockBackend& blocks() { return blocks_; }
  Metrics& merge_metrics(int i) { return merges_[i]->metrics(); }

  // The ledger's state with probes for `cids`.
  metadata::v1::GetLedgerResponse Ledger(const std::string& tenant, const std::string& ledger,
                                         const std::vector<std::string>& cids = {}) {
    grpc::ClientContext ctx;
    metadata::v1::GetLedgerRequest r;
    r.set_tenant(tenant);
    r.set_ledger(ledger);
    r.set_include_entries(true);
    for (const auto& c : cids) r.add_probe_cids(c);
    metadata::v1::GetLedgerResponse resp;
    grpc::Status s = metadata_stub_->GetLedger(&ctx, r, &resp);
    if (!s.ok()) ADD_FAILURE() << s.error_message();
    return resp;
  }

 private:
  static std::string Target(int port) { return "127.0.0.1:" + std::to_string(port); }

  BoundedExecutor executor_{{.threads = 8, .max_queued = 4096}};
  blockstore::MemoryBlockBackend blocks_;
  Metrics blockstore_metrics_;
  std::unique_ptr<blockstore::BlockStoreServiceImpl> blockstore_;
  std::unique_ptr<GrpcServer> blockstore_server_;
  std::unique_ptr<metadata::KvBackend> kv_ = *metadata::KvBackendRegistry().Create("memory://");
  KeySealer sealer_ = *KeySealer::Create(std::string(32, 's'));
  metadata::WatchHub hub_;
  metadata::LedgerStore store_{
      *kv_, sealer_, RealClock::Get(),
      [this](const LedgerRef& ledger, std::shared_ptr<const metadata::v1::WatchEvent> e) {
        hub_.Publish(ledger, e);
      }};
  Metrics metadata_metrics_;
  std::unique_ptr<metadata::MetadataServiceImpl> metadata_;
  std::unique_ptr<GrpcServer> metadata_server_;
  std::unique_ptr<metadata::v1::MetadataService::Stub> metadata_stub_;
  std::vector<std::unique_ptr<MergeInstance>> merges_;
};

}  // namespace kiln::testing
