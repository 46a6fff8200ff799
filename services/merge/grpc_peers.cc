#include "services/merge/grpc_peers.h"

#include <utility>

#include "common/async_call.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::merge {
namespace {

class GrpcBlockStoreClient : public BlockStoreClient {
 public:
  GrpcBlockStoreClient(const ShardedChannels& shards, absl::Duration deadline)
      : stubs_(shards), deadline_(deadline) {}

  void HasCars(const LedgerRef& ledger, std::vector<std::string> keys,
               Callback<std::vector<bool>> done) override {
    blockstore::v1::BatchStatRequest request;
    request.set_tenant(ledger.tenant());
    request.set_ledger(ledger.ledger());
    request.set_store(blockstore::v1::STORE_CAR);
    for (auto& k : keys) request.add_keys(std::move(k));
    CallUnary(
        stubs_.For(ledger)->async(), &blockstore::v1::BlockStoreService::Stub::async::BatchStat,
        std::move(request), deadline_, "block-store",
        Callback<blockstore::v1::BatchStatResponse>(
            [done = std::move(done)](absl::StatusOr<blockstore::v1::BatchStatResponse> r) mutable {
              if (!r.ok()) {
                done(r.status());
                return;
              }
              std::vector<bool> found;
              for (const auto& stat : r->stats()) found.push_back(stat.found());
              done(std::move(found));
            }));
  }

 private:
  ShardedStubs<blockstore::v1::BlockStoreService> stubs_;
  absl::Duration deadline_;
};

class GrpcMetadataClient : public MetadataClient {
 public:
  GrpcMetadataClient(const ShardedChannels& shards, absl::Duration deadline)
      : stubs_(shards), deadline_(deadline) {}

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    auto* stub = stubs_.For(LedgerRef(request.tenant(), request.ledger()));
    CallUnary(stub->async(), &metadata::v1::MetadataService::Stub::async::GetLedger,
              std::move(request), deadline_, "metadata", std::move(done));
  }

  void Commit(metadata::v1::CommitRequest request,
              Callback<metadata::v1::CommitResponse> done) override {
    auto* stub = stubs_.For(LedgerRef(request.tenant(), request.ledger()));
    CallUnary(stub->async(), &metadata::v1::MetadataService::Stub::async::Commit,
              std::move(request), deadline_, "metadata", std::move(done));
  }

 private:
  ShardedStubs<metadata::v1::MetadataService> stubs_;
  absl::Duration deadline_;
};

}  // namespace

std::unique_ptr<BlockStoreClient> NewGrpcBlockStoreClient(const ShardedChannels& shards,
                                                          absl::Duration deadline) {
  return std::make_unique<GrpcBlockStoreClient>(shards, deadline);
}

std::unique_ptr<MetadataClient> NewGrpcMetadataClient(const ShardedChannels& shards,
                                                      absl::Duration deadline) {
  return std::make_unique<GrpcMetadataClient>(shards, deadline);
}

}  // namespace kiln::merge
