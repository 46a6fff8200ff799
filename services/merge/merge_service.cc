#include "services/merge/merge_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ids.h"
#include "common/meta_event.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "services/merge/heads.h"

namespace kiln::merge {
namespace {

constexpr size_t kMaxKeyBytes = 1024;

const char* ResultLabel(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kInvalidArgument:
      return "invalid";
    case absl::StatusCode::kFailedPrecondition:
      return "missing_car";
    case absl::StatusCode::kAborted:
      return "contention";
    default:
      return "error";
  }
}

}  // namespace

// One PutMeta: validate -> HasCars -> (GetLedger -> Commit)* -> Finish. Deletes itself when done.
class MergeServiceImpl::PutMetaOp {
 public:
  PutMetaOp(MergeServiceImpl* service, grpc::ServerUnaryReactor* reactor,
            const v1::PutMetaRequest* request, v1::PutMetaResponse* response)
      : service_(service),
        reactor_(reactor),
        request_(request),
        response_(response),
        start_(std::chrono::steady_clock::now()) {}

  void Start() {
    absl::Status valid = Validate();
    if (!valid.ok()) {
      Done(valid);
      return;
    }
    if (cars_.empty()) {
      ReadLedger();
      return;
    }
    std::vector<std::string> keys = cars_;
    service_->blockstore_.HasCars(
        request_->tenant(), request_->ledger(), std::move(keys),
        [this](absl::StatusOr<std::vector<bool>> found) { OnCarsChecked(std::move(found)); });
  }

 private:
  absl::Status Validate() {
    KILN_RETURN_IF_ERROR(ValidateId(request_->tenant(), "tenant"));
    KILN_RETURN_IF_ERROR(ValidateId(request_->ledger(), "ledger"));
    if (request_->entries_size() == 0 && request_->keys_size() == 0) {
      return absl::InvalidArgumentError("a meta put needs at least one entry or key");
    }
    if (request_->entries_size() > service_->options_.max_entries) {
      return absl::InvalidArgumentError(absl::StrCat("entries has ", request_->entries_size(),
                                                     " items; at most ",
                                                     service_->options_.max_entries));
    }
    if (request_->keys_size() > service_->options_.max_keys) {
      return absl::InvalidArgumentError(absl::StrCat("keys has ", request_->keys_size(),
                                                     " items; at most ", service_->options_.max_keys));
    }
    for (int i = 0; i < request_->keys_size(); ++i) {
      const std::string& key = request_->keys(i);
      if (key.empty() || key.size() > kMaxKeyBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("keys[", i, "] must be 1 to ", kMaxKeyBytes, " bytes"));
      }
    }
    absl::flat_hash_set<std::string> seen_cars;
    for (int i = 0; i < request_->entries_size(); ++i) {
      const auto& entry = request_->entries(i);
      std::vector<std::string> parents(entry.parents().begin(), entry.parents().end());
      absl::StatusOr<MetaEvent> event = DecodeMetaEntry(entry.cid(), parents, entry.data());
      if (!event.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("entries[", i, "] (cid ", entry.cid(),
                                                       "): ", event.status().message()));
      }
      if (!seen_entries_.insert(entry.cid()).second) continue;  // duplicate within the put
      entry_index_[entry.cid()] = i;
      new_entries_.push_back(NewEntry{entry.cid(), parents});
      for (const Cid& car : event->cars) {
        std::string key = car.ToString();
        if (seen_cars.insert(key).second) {
          cars_.push_back(key);
          car_owner_.push_back(i);
        }
      }
    }
    return absl::OkStatus();
  }

  void OnCarsChecked(absl::StatusOr<std::vector<bool>> found) {
    if (!found.ok()) {
      Done(found.status());
      return;
    }
    for (size_t i = 0; i < cars_.size() && i < found->size(); ++i) {
      if (!(*found)[i]) {
        int e = car_owner_[i];
        Done(absl::FailedPreconditionError(absl::StrCat(
            "entries[", e, "] (cid ", request_->entries(e).cid(), "): CAR ", cars_[i],
            " is not in the block-store; upload it before putting the meta that names it")));
        return;
      }
    }
    ReadLedger();
  }

  void ReadLedger() {
    metadata::v1::GetLedgerRequest req;
    req.set_tenant(request_->tenant());
    req.set_ledger(request_->ledger());
    for (const auto& e : new_entries_) req.add_probe_cids(e.cid);
    service_->metadata_.GetLedger(
        std::move(req), [this](absl::StatusOr<metadata::v1::GetLedgerResponse> r) {
          OnLedger(std::move(r));
        });
  }

  void OnLedger(absl::StatusOr<metadata::v1::GetLedgerResponse> ledger) {
    if (!ledger.ok()) {
      Done(ledger.status());
      return;
    }
    std::vector<NewEntry> fresh;
    absl::flat_hash_set<std::string> referenced;
    for (int i = 0; i < ledger->probes_size(); ++i) {
      const auto& probe = ledger->probes(i);
      if (probe.accepted()) continue;
      if (probe.referenced()) referenced.insert(probe.cid());
      fresh.push_back(new_entries_[i]);
    }
    const auto& state = ledger->state();
    std::vector<std::string> heads(state.heads().begin(), state.heads().end());
    if (fresh.empty() && request_->keys_size() == 0) {
      Respond(state.version(), heads);  // everything already accepted: idempotent
      return;
    }
    std::vector<std::string> next = AdvanceHeads(heads, fresh, referenced);
    metadata::v1::CommitRequest commit;
    commit.set_tenant(request_->tenant());
    commit.set_ledger(request_->ledger());
    commit.set_expected_version(state.version());
    commit.set_writer(request_->writer());
    for (const auto& e : fresh) *commit.add_entries() = request_->entries(entry_index_[e.cid]);
    for (const auto& h : next) commit.add_heads(h);
    for (const auto& k : request_->keys()) commit.add_keys(k);
    service_->metadata_.Commit(
        std::move(commit), [this, next](absl::StatusOr<metadata::v1::CommitResponse> r) {
          OnCommitted(std::move(r), next);
        });
  }

  void OnCommitted(absl::StatusOr<metadata::v1::CommitResponse> result,
                   const std::vector<std::string>& heads) {
    if (result.status().code() == absl::StatusCode::kAborted &&
        ++attempts_ < service_->options_.max_commit_attempts) {
      service_->commit_retries_->Increment();
      ReadLedger();  // another writer committed first: recompute from the new state
      return;
    }
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kAborted) {
        Done(absl::AbortedError(absl::StrCat("ledger is too contended; gave up after ", attempts_,
                                             " attempts; retry")));
      } else {
        Done(result.status());
      }
      return;
    }
    service_->entries_accepted_->Increment(static_cast<double>(result->record().entry_cids_size()));
    Respond(result->version(), heads);
  }

  void Respond(uint64_t version, const std::vector<std::string>& heads) {
    for (int i = 0; i < request_->entries_size(); ++i) {
      response_->add_accepted(request_->entries(i).cid());
    }
    for (const auto& h : heads) response_->add_heads(h);
    response_->set_version(version);
    Done(absl::OkStatus());
  }

  void Done(const absl::Status& status) {
    service_->puts_->Add({{"result", ResultLabel(status.code())}}).Increment();
    service_->put_seconds_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    if (status.code() == absl::StatusCode::kUnavailable ||
        status.code() == absl::StatusCode::kInternal) {
      LOG(WARNING) << "meta put failed: " << status.message();
    }
    reactor_->Finish(ToGrpcStatus(status));
    delete this;
  }

  MergeServiceImpl* service_;
  grpc::ServerUnaryReactor* reactor_;
  const v1::PutMetaRequest* request_;
  v1::PutMetaResponse* response_;
  std::chrono::steady_clock::time_point start_;
  std::vector<NewEntry> new_entries_;
  absl::flat_hash_set<std::string> seen_entries_;
  absl::flat_hash_map<std::string, int> entry_index_;
  std::vector<std::string> cars_;
  std::vector<int> car_owner_;
  int attempts_ = 0;
};

MergeServiceImpl::MergeServiceImpl(const MergeServiceOptions& options,
                                   BlockStoreClient& blockstore, MetadataClient& metadata,
                                   prometheus::Registry& registry)
    : options_(options), blockstore_(blockstore), metadata_(metadata) {
  puts_ = &prometheus::BuildCounter()
               .Name("kiln_merge_puts_total")
               .Help("Meta puts by result: ok, invalid, missing_car, contention, error.")
               .Register(registry);
  for (const char* r : {"ok", "invalid", "missing_car", "contention", "error"}) {
    puts_->Add({{"result", r}});
  }
  entries_accepted_ = &prometheus::BuildCounter()
                           .Name("kiln_merge_entries_accepted_total")
                           .Help("Meta entries newly accepted into ledgers.")
                           .Register(registry)
                           .Add({});
  commit_retries_ = &prometheus::BuildCounter()
                         .Name("kiln_merge_commit_retries_total")
                         .Help("Commits retried because another writer advanced the ledger first.")
                         .Register(registry)
                         .Add({});
  put_seconds_ = &prometheus::BuildHistogram()
                      .Name("kiln_merge_put_duration_seconds")
                      .Help("Time to validate and commit a meta put.")
                      .Register(registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{
                                   0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1, 2.5});
}

grpc::ServerUnaryReactor* MergeServiceImpl::PutMeta(grpc::CallbackServerContext* context,
                                                    const v1::PutMetaRequest* request,
                                                    v1::PutMetaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (new PutMetaOp(this, reactor, request, response))->Start();
  return reactor;
}

}  // namespace kiln::merge
