#include "services/merge/merge_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
constexpr size_t kMaxBatchEntries = 1024;

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

std::string LedgerKey(const std::string& tenant, const std::string& ledger) {
  return absl::StrCat(tenant.size(), ":", tenant, ledger);
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
      entries_.push_back({i, NewEntry{entry.cid(), std::move(parents)}, {}});
      for (const Cid& car : event->cars) entries_.back().cars.push_back(car.ToString());
    }
    return absl::OkStatus();
  }

  // Answers the client and frees the op.
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

  void Respond(uint64_t version, const std::vector<std::string>& heads) {
    for (int i = 0; i < request_->entries_size(); ++i) {
      response_->add_accepted(request_->entries(i).cid());
    }
    for (const auto& h : heads) response_->add_heads(h);
    response_->set_version(version);
    Done(absl::OkStatus());
  }

  struct Entry {
    int index;  // in the request
    NewEntry entry;
    std::vector<std::string> cars;
  };

  const v1::PutMetaRequest& request() const { return *request_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::string ledger_key() const { return LedgerKey(request_->tenant(), request_->ledger()); }

 private:
  MergeServiceImpl* service_;
  grpc::ServerUnaryReactor* reactor_;
  const v1::PutMetaRequest* request_;
  v1::PutMetaResponse* response_;
  std::chrono::steady_clock::time_point start_;
  std::vector<Entry> entries_;
};

// One batch of puts to one ledger: HasCars -> (GetLedger -> Commit)* -> answer every put.
class MergeServiceImpl::Batch {
 public:
  Batch(MergeServiceImpl* service, std::vector<PutMetaOp*> ops)
      : service_(service), ops_(std::move(ops)), key_(ops_.front()->ledger_key()) {
    tenant_ = ops_.front()->request().tenant();
    ledger_ = ops_.front()->request().ledger();
  }

  // Checks the CARs and reads the ledger at the same time; the commit waits for both.
  void Start() {
    service_->batch_puts_->Observe(static_cast<double>(ops_.size()));
    absl::flat_hash_set<std::string> seen;
    for (PutMetaOp* op : ops_) {
      for (const auto& e : op->entries()) {
        for (const auto& car : e.cars) {
          if (seen.insert(car).second) cars_.push_back(car);
        }
      }
    }
    if (cars_.empty()) {
      cars_checked_ = true;
      ReadLedger();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      pending_ = 2;
    }
    std::vector<std::string> cars = cars_;
    service_->blockstore_.HasCars(tenant_, ledger_, std::move(cars),
                                  [this](absl::StatusOr<std::vector<bool>> found) {
                                    cars_found_ = std::move(found);
                                    Arrived();
                                  });
    ReadLedger();
  }

 private:
  // Counts down the two first calls; the last to arrive carries on.
  void Arrived() {
    {
      absl::MutexLock lock(&mu_);
      if (--pending_ > 0) return;
    }
    OnFirstRound();
  }

  void OnFirstRound() {
    cars_checked_ = true;
    if (!cars_found_.ok()) {
      FailAll(cars_found_.status());
      return;
    }
    absl::flat_hash_set<std::string> missing;
    for (size_t i = 0; i < cars_.size() && i < cars_found_->size(); ++i) {
      if (!(*cars_found_)[i]) missing.insert(cars_[i]);
    }
    if (!missing.empty()) {
      // Answer the puts naming a missing CAR; the others go on from a fresh read, since the
      // ledger read already made included their entries.
      std::vector<PutMetaOp*> keep;
      for (PutMetaOp* op : ops_) {
        absl::Status s = MissingCar(*op, missing);
        if (s.ok()) {
          keep.push_back(op);
        } else {
          op->Done(s);
        }
      }
      ops_ = std::move(keep);
      if (ops_.empty()) {
        Finished();
        return;
      }
      ReadLedger();
      return;
    }
    OnLedger(std::move(first_read_));
  }

  static absl::Status MissingCar(const PutMetaOp& op,
                                 const absl::flat_hash_set<std::string>& missing) {
    for (const auto& e : op.entries()) {
      for (const auto& car : e.cars) {
        if (missing.contains(car)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "entries[", e.index, "] (cid ", e.entry.cid, "): CAR ", car,
              " is not in the block-store; upload it before putting the meta that names it"));
        }
      }
    }
    return absl::OkStatus();
  }

  void ReadLedger() {
    metadata::v1::GetLedgerRequest req;
    req.set_tenant(tenant_);
    req.set_ledger(ledger_);
    candidates_.clear();
    absl::flat_hash_set<std::string> seen;
    for (PutMetaOp* op : ops_) {
      for (const auto& e : op->entries()) {
        if (seen.insert(e.entry.cid).second) {
          candidates_.push_back({op, &e});
          req.add_probe_cids(e.entry.cid);
        }
      }
    }
    service_->metadata_.GetLedger(std::move(req),
                                  [this](absl::StatusOr<metadata::v1::GetLedgerResponse> r) {
                                    if (cars_checked_) {
                                      OnLedger(std::move(r));
                                    } else {
                                      first_read_ = std::move(r);
                                      Arrived();
                                    }
                                  });
  }

  void OnLedger(absl::StatusOr<metadata::v1::GetLedgerResponse> ledger) {
    if (!ledger.ok()) {
      FailAll(ledger.status());
      return;
    }
    std::vector<NewEntry> fresh;
    absl::flat_hash_set<std::string> referenced;
    metadata::v1::CommitRequest commit;
    for (int i = 0; i < ledger->probes_size() && i < static_cast<int>(candidates_.size()); ++i) {
      const auto& probe = ledger->probes(i);
      if (probe.accepted()) continue;
      if (probe.referenced()) referenced.insert(probe.cid());
      const auto& [op, entry] = candidates_[i];
      fresh.push_back(entry->entry);
      *commit.add_entries() = op->request().entries(entry->index);
      commit.add_entry_writers(op->request().writer());
    }
    const auto& state = ledger->state();
    std::vector<std::string> heads(state.heads().begin(), state.heads().end());
    bool any_keys = false;
    absl::flat_hash_set<std::string> writers;
    for (PutMetaOp* op : ops_) {
      for (const auto& k : op->request().keys()) commit.add_keys(k);
      any_keys = any_keys || op->request().keys_size() > 0;
      if (writers.insert(op->request().writer()).second) commit.add_writers(op->request().writer());
    }
    if (fresh.empty() && !any_keys) {
      RespondAll(state.version(), heads);  // everything already accepted: idempotent
      return;
    }
    heads_ = AdvanceHeads(heads, fresh, referenced);
    commit.set_tenant(tenant_);
    commit.set_ledger(ledger_);
    commit.set_expected_version(state.version());
    for (const auto& h : heads_) commit.add_heads(h);
    service_->metadata_.Commit(
        std::move(commit),
        [this](absl::StatusOr<metadata::v1::CommitResponse> r) { OnCommitted(std::move(r)); });
  }

  void OnCommitted(absl::StatusOr<metadata::v1::CommitResponse> result) {
    if (result.status().code() == absl::StatusCode::kAborted &&
        ++attempts_ < service_->options_.max_commit_attempts) {
      service_->commit_retries_->Increment();
      ReadLedger();  // another instance committed first: recompute from the new state
      return;
    }
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kAborted) {
        FailAll(absl::AbortedError(absl::StrCat("ledger is too contended; gave up after ",
                                                attempts_, " attempts; retry")));
      } else {
        FailAll(result.status());
      }
      return;
    }
    service_->entries_accepted_->Increment(static_cast<double>(result->record().entry_cids_size()));
    RespondAll(result->version(), heads_);
  }

  void RespondAll(uint64_t version, const std::vector<std::string>& heads) {
    for (PutMetaOp* op : ops_) op->Respond(version, heads);
    Finished();
  }

  void FailAll(const absl::Status& status) {
    for (PutMetaOp* op : ops_) op->Done(status);
    Finished();
  }

  void Finished() {
    MergeServiceImpl* service = service_;
    std::string key = key_;
    delete this;
    service->BatchDone(key);
  }

  MergeServiceImpl* service_;
  std::vector<PutMetaOp*> ops_;
  std::string key_;
  std::string tenant_;
  std::string ledger_;
  std::vector<std::string> cars_;
  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  // Results of the first round, which runs the CAR check and the ledger read in parallel.
  bool cars_checked_ = false;
  absl::StatusOr<std::vector<bool>> cars_found_;
  absl::StatusOr<metadata::v1::GetLedgerResponse> first_read_;
  std::vector<std::pair<PutMetaOp*, const PutMetaOp::Entry*>> candidates_;
  std::vector<std::string> heads_;
  int attempts_ = 0;
};

MergeServiceImpl::MergeServiceImpl(const MergeServiceOptions& options, BlockStoreClient& blockstore,
                                   MetadataClient& metadata, prometheus::Registry& registry)
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
  put_seconds_ =
      &prometheus::BuildHistogram()
           .Name("kiln_merge_put_duration_seconds")
           .Help("Time to validate and commit a meta put.")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  batch_puts_ = &prometheus::BuildHistogram()
                     .Name("kiln_merge_batch_puts")
                     .Help("Puts carried by one ledger batch (one commit).")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64});
}

void MergeServiceImpl::Enqueue(PutMetaOp* op) {
  std::string key = op->ledger_key();
  {
    absl::MutexLock lock(&mu_);
    auto [it, idle] = queues_.try_emplace(key);
    if (!idle) {
      it->second.push_back(op);  // the batch in flight will pick it up when it finishes
      return;
    }
  }
  (new Batch(this, {op}))->Start();
}

std::vector<MergeServiceImpl::PutMetaOp*> MergeServiceImpl::TakeBatch(
    const std::string& ledger_key) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(ledger_key);
  std::vector<PutMetaOp*> ops;
  if (it == queues_.end()) return ops;
  size_t entries = 0;
  while (!it->second.empty() && ops.size() < options_.max_batch_puts) {
    size_t n = it->second.front()->entries().size();
    // Keep a commit within metadata's per-commit limits (one put alone always fits).
    if (!ops.empty() && entries + n > kMaxBatchEntries) break;
    entries += n;
    ops.push_back(it->second.front());
    it->second.pop_front();
  }
  if (ops.empty()) queues_.erase(it);
  return ops;
}

void MergeServiceImpl::BatchDone(const std::string& ledger_key) {
  std::vector<PutMetaOp*> next = TakeBatch(ledger_key);
  if (!next.empty()) (new Batch(this, std::move(next)))->Start();
}

grpc::ServerUnaryReactor* MergeServiceImpl::PutMeta(grpc::CallbackServerContext* context,
                                                    const v1::PutMetaRequest* request,
                                                    v1::PutMetaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* op = new PutMetaOp(this, reactor, request, response);
  absl::Status valid = op->Validate();
  if (!valid.ok()) {
    op->Done(valid);
  } else {
    Enqueue(op);
  }
  return reactor;
}

}  // namespace kiln::merge
