#include "services/edge/edge_backend.h"

#include <utility>

#include "common/grpc_metadata_client.h"
#include "kiln/merge/v1/merge.grpc.pb.h"

namespace kiln::edge {
namespace {

class GrpcEdgeBackend : public EdgeBackend {
 public:
  GrpcEdgeBackend(std::shared_ptr<grpc::Channel> merge, const ShardedChannels& metadata,
                  absl::Duration deadline)
      : merge_(merge::v1::MergeService::NewStub(merge)),
        metadata_(metadata, deadline),
        deadline_(deadline) {}

  void PutMeta(merge::v1::PutMetaRequest request,
               Callback<merge::v1::PutMetaResponse> done) override {
    CallUnary(merge_->async(), &merge::v1::MergeService::Stub::async::PutMeta, std::move(request),
              deadline_, "merge", std::move(done));
  }

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    metadata_.GetLedger(std::move(request), std::move(done));
  }

 private:
  std::unique_ptr<merge::v1::MergeService::Stub> merge_;
  GrpcMetadataClient metadata_;
  absl::Duration deadline_;
};

}  // namespace

std::unique_ptr<EdgeBackend> NewGrpcEdgeBackend(std::shared_ptr<grpc::Channel> merge,
                                                const ShardedChannels& metadata,
                                                absl::Duration deadline) {
  return std::make_unique<GrpcEdgeBackend>(std::move(merge), metadata, deadline);
}

}  // namespace kiln::edge
