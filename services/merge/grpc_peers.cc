#include "services/merge/grpc_peers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "grpcpp/client_context.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::merge {
namespace {

// Owns everything one asynchronous unary call needs until its callback has run.
// (gRPC's callback takes a copyable std::function, so the move-only `done` lives here.)
template <typename Req, typename Resp, typename Out>
struct Call {
  grpc::ClientContext context;
  Req request;
  Resp response;
  Callback<Out> done;
};

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

absl::Status PeerError(const grpc::Status& status, absl::string_view peer) {
  absl::Status s = FromGrpcStatus(status);
  // Transport failures of a peer are this service's UNAVAILABLE, not the caller's fault.
  if (s.code() == absl::StatusCode::kDeadlineExceeded || s.code() == absl::StatusCode::kCancelled) {
    return absl::UnavailableError(absl::StrCat(peer, " did not answer in time"));
  }
  if (s.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(absl::StrCat(peer, " is unavailable: ", s.message()));
  }
  return s;
}

class GrpcBlockStoreClient : public BlockStoreClient {
 public:
  GrpcBlockStoreClient(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline)
      : stub_(blockstore::v1::BlockStoreService::NewStub(channel)), deadline_(deadline) {}

  void HasCars(const std::string& tenant, const std::string& ledger, std::vector<std::string> keys,
               Callback<std::vector<bool>> done) override {
    using C = Call<blockstore::v1::BatchStatRequest, blockstore::v1::BatchStatResponse,
                   std::vector<bool>>;
    auto* call = new C();
    call->done = std::move(done);
    call->context.set_deadline(DeadlineIn(deadline_));
    call->request.set_tenant(tenant);
    call->request.set_ledger(ledger);
    call->request.set_store(blockstore::v1::STORE_CAR);
    for (auto& k : keys) call->request.add_keys(std::move(k));
    stub_->async()->BatchStat(&call->context, &call->request, &call->response,
                              [call](grpc::Status status) {
                                std::unique_ptr<C> owned(call);
                                if (!status.ok()) {
                                  owned->done(PeerError(status, "block-store"));
                                  return;
                                }
                                std::vector<bool> found;
                                for (const auto& stat : owned->response.stats())
                                  found.push_back(stat.found());
                                owned->done(std::move(found));
                              });
  }

 private:
  std::unique_ptr<blockstore::v1::BlockStoreService::Stub> stub_;
  absl::Duration deadline_;
};

// Runs a metadata call's callback with its response or error, then frees the call.
template <typename C>
void Complete(C* call, const grpc::Status& status) {
  std::unique_ptr<C> owned(call);
  if (!status.ok()) {
    owned->done(PeerError(status, "metadata"));
  } else {
    owned->done(std::move(owned->response));
  }
}

class GrpcMetadataClient : public MetadataClient {
 public:
  GrpcMetadataClient(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline)
      : stub_(metadata::v1::MetadataService::NewStub(channel)), deadline_(deadline) {}

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    using C = Call<metadata::v1::GetLedgerRequest, metadata::v1::GetLedgerResponse,
                   metadata::v1::GetLedgerResponse>;
    auto* call = new C();
    call->done = std::move(done);
    call->context.set_deadline(DeadlineIn(deadline_));
    call->request = std::move(request);
    stub_->async()->GetLedger(&call->context, &call->request, &call->response,
                              [call](grpc::Status status) { Complete(call, status); });
  }

  void Commit(metadata::v1::CommitRequest request,
              Callback<metadata::v1::CommitResponse> done) override {
    using C = Call<metadata::v1::CommitRequest, metadata::v1::CommitResponse,
                   metadata::v1::CommitResponse>;
    auto* call = new C();
    call->done = std::move(done);
    call->context.set_deadline(DeadlineIn(deadline_));
    call->request = std::move(request);
    stub_->async()->Commit(&call->context, &call->request, &call->response,
                           [call](grpc::Status status) { Complete(call, status); });
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
