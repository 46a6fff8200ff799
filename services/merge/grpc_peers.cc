#include "services/merge/grpc_peers.h"

#include <utility>

#include "common/async_call.h"
#include "common/sharded_calls.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"

namespace kiln::merge {
namespace {

class GrpcBlockStoreClient : public BlockStoreClient {
 public:
  GrpcBlockStoreClient(const ShardedChannels& shards, absl::Duration deadline)
      : calls_(shards, deadline, "block-store") {}

  void HasCars(const LedgerRef& ledger, std::vector<std::string> keys,
               Callback<std::vector<bool>> done) override {
    blockstore::v1::BatchStatRequest request;
    request.set_tenant(ledger.tenant());
    request.set_ledger(ledger.ledger());
    request.set_store(blockstore::v1::STORE_CAR);
    for (auto& k : keys) request.add_keys(std::move(k));
    calls_.Call(
        ledger, &blockstore::v1::BlockStoreService::Stub::async::BatchStat, std::move(request),
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
  ShardedCalls<blockstore::v1::BlockStoreService> calls_;
};

}  // namespace

std::unique_ptr<BlockStoreClient> NewGrpcBlockStoreClient(const ShardedChannels& shards,
                                                          absl::Duration deadline) {
  return std::make_unique<GrpcBlockStoreClient>(shards, deadline);
}

}  // namespace kiln::merge
