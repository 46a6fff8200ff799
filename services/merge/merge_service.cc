#include "services/merge/merge_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ledger_ref.h"
#include "common/meta_event.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "services/merge/heads.h"

namespace kiln::merge {
namespace {

constexpr size_t kMaxKeyBytes = 1024;

// The `result` label of kiln_merge_puts_total, by index.
constexpr const char* kResultLabels[] = {"ok", "invalid", "missing_car", "contention", "error"};

size_t ResultIndex(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return 1;
    case absl::StatusCode::kFailedPrecondition:
      return 2;
    case absl::StatusCode::kAborted:
      return 3;
    default:
      return 4;
  }
}

}  // namespace

// One PutMeta request: validated on arrival, then answered by the batch that carries it.
class MergeServiceImpl::PutMetaOp {
 public:
  PutMetaOp(MergeServiceImpl* service, grpc::ServerUnaryReactor* reactor,
            const v1::PutMetaRequest* request, v1::PutMetaResponse* response)
      : service_(service),
        reactor_(reactor),
        request_(request),
        response_(response),
        start_(std::chrono::steady_clock::now()) {}

  // Decodes and checks every entry. INVALID_ARGUMENT names the entry and the reason.
  absl::Status Validate() {
    // The one validation of the ids: the committer takes them as they are.
    KILN_RETURN_IF_ERROR(LedgerRef::Parse(request_->tenant(), request_->ledger()).status());
    if (request_->entries_size() == 0 && request_->keys_size() == 0) {
      return absl::InvalidArgumentError("a meta put needs at least one entry or key");
    }
    if (request_->entries_size() > service_->options_.max_entries) {
      return absl::InvalidArgumentError(absl::StrCat("entries has ", request_->entries_size(),
                                                     " items; at most ",
                                                     service_->options_.max_entries));
    }
    if (request_->keys_size() > service_->options_.max_keys) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keys has ", request_->keys_size(), " items; at most ", service_->options_.max_keys));
    }
    for (int i = 0; i < request_->keys_size(); ++i) {
      const std::string& key = request_->keys(i);
      if (key.empty() || key.size() > kMaxKeyBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("keys[", i, "] must be 1 to ", kMaxKeyBytes, " bytes"));
      }
    }
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < request_->entries_size(); ++i) {
      const auto& entry = request_->entries(i);
      std::vector<std::string> parents(entry.parents().begin(), entry.parents().end());
      absl::StatusOr<MetaEvent> event = DecodeMetaEntry(entry.cid(), parents, entry.data());
      if (!event.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("entries[", i, "] (cid ", entry.cid(), "): ", event.status().message()));
      }
      if (!seen.insert(entry.cid()).second) continue;  // duplicate within the put
      auto& added = validated_.entries.emplace_back(
          ValidatedPut::Entry{i, NewEntry{entry.cid(), std::move(parents)}, {}});
      for (const Cid& car : event->cars) added.cars.push_back(car.ToString());
    }
    return absl::OkStatus();
  }

  // Answers the client and frees the op.
  void Done(const absl::Status& status) {
    service_->puts_[ResultIndex(status.code())]->Increment();
    service_->put_seconds_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    if (status.code() == absl::StatusCode::kUnavailable ||
        status.code() == absl::StatusCode::kInternal) {
      LOG(WARNING) << "meta put failed: " << status.message();
    }
    reactor_->Finish(ToGrpcStatus(status));
    delete this;
  }

  void Respond(uint64_t version, const std::vector<std::string>& heads) {
    for (int i = 0; i < request_->entries_size(); ++i) {
      response_->add_accepted(request_->entries(i).cid());
    }
    for (const auto& h : heads) response_->add_heads(h);
    response_->set_version(version);
    Done(absl::OkStatus());
  }

  // The put for the committer (once, after Validate succeeded).
  ValidatedPut TakeValidated() {
    validated_.request = request_;
    return std::move(validated_);
  }

 private:
  MergeServiceImpl* service_;
  grpc::ServerUnaryReactor* reactor_;
  const v1::PutMetaRequest* request_;
  v1::PutMetaResponse* response_;
  std::chrono::steady_clock::time_point start_;
  ValidatedPut validated_;
};

MergeServiceImpl::MergeServiceImpl(const MergeServiceOptions& options, BlockStoreClient& blockstore,
                                   MetadataClient& metadata, prometheus::Registry& registry)
    : options_(options),
      committer_(CommitterOptions{options.max_commit_attempts, options.max_batch_puts}, blockstore,
                 metadata, registry) {
  auto& puts = prometheus::BuildCounter()
                   .Name("kiln_merge_puts_total")
                   .Help("Meta puts by result: ok, invalid, missing_car, contention, error.")
                   .Register(registry);
  for (size_t i = 0; i < puts_.size(); ++i) puts_[i] = &puts.Add({{"result", kResultLabels[i]}});
  put_seconds_ =
      &prometheus::BuildHistogram()
           .Name("kiln_merge_put_duration_seconds")
           .Help("Time to validate and commit a meta put.")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

grpc::ServerUnaryReactor* MergeServiceImpl::PutMeta(grpc::CallbackServerContext* context,
                                                    const v1::PutMetaRequest* request,
                                                    v1::PutMetaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* op = new PutMetaOp(this, reactor, request, response);
  absl::Status valid = op->Validate();
  if (!valid.ok()) {
    op->Done(valid);
    return reactor;
  }
  committer_.Submit(op->TakeValidated(), [op](absl::StatusOr<Committed> committed) {
    if (!committed.ok()) return op->Done(committed.status());
    op->Respond(committed->version, committed->heads);
  });
  return reactor;
}

}  // namespace kiln::merge
