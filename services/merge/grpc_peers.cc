#include "services/merge/grpc_peers.h"

#include <utility>

#include "common/async_call.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::merge {
namespace {

class GrpcBlockStoreClient : public BlockStoreClient {
 public:
  GrpcBlockStoreClient(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline)
      : stub_(blockstore::v1::BlockStoreService::NewStub(channel)), deadline_(deadline) {}

  void HasCars(const std::string& tenant, const std::string& ledger, std::vector<std::string> keys,
               Callback<std::vector<bool>> done) override {
    blockstore::v1::BatchStatRequest request;
    request.set_tenant(tenant);
    request.set_ledger(ledger);
    request.set_store(blockstore::v1::STORE_CAR);
    for (auto& k : keys) request.add_keys(std::move(k));
    CallUnary(
        stub_->async(), &blockstore::v1::BlockStoreService::Stub::async::BatchStat,
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
  std::unique_ptr<blockstore::v1::BlockStoreService::Stub> stub_;
  absl::Duration deadline_;
};

class GrpcMetadataClient : public MetadataClient {
 public:
  GrpcMetadataClient(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline)
      : stub_(metadata::v1::MetadataService::NewStub(channel)), deadline_(deadline) {}

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    CallUnary(stub_->async(), &metadata::v1::MetadataService::Stub::async::GetLedger,
              std::move(request), deadline_, "metadata", std::move(done));
  }

  void Commit(metadata::v1::CommitRequest request,
              Callback<metadata::v1::CommitResponse> done) override {
    CallUnary(stub_->async(), &metadata::v1::MetadataService::Stub::async::Commit,
              std::move(request), deadline_, "metadata", std::move(done));
  }

 private:
  std::unique_ptr<metadata::v1::MetadataService::Stub> stub_;
  absl::Duration deadline_;
};

}  // namespace

std::unique_ptr<BlockStoreClient> NewGrpcBlockStoreClient(std::shared_ptr<grpc::Channel> channel,
                                                          absl::Duration deadline) {
  return std::make_unique<GrpcBlockStoreClient>(std::move(channel), deadline);
}

std::unique_ptr<MetadataClient> NewGrpcMetadataClient(std::shared_ptr<grpc::Channel> channel,
                                                      absl::Duration deadline) {
  return std::make_unique<GrpcMetadataClient>(std::move(channel), deadline);
}

}  // namespace kiln::merge
