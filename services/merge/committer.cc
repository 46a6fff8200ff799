#include "services/merge/committer.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/unlabelled_metrics.h"

namespace kiln::merge {
namespace {

// Most entries in one commit (metadata's per-commit limit); one put alone always fits.
constexpr size_t kMaxBatchEntries = 1024;

LedgerRef LedgerOf(const v1::PutMetaRequest& request) {
  return LedgerRef(request.tenant(), request.ledger());
}

}  // namespace

// One batch of puts to one ledger: HasCars -> (GetLedger -> Commit)* -> answer every put.
class Committer::Batch {
 public:
  Batch(Committer* committer, std::vector<std::unique_ptr<Pending>> puts)
      : committer_(committer), puts_(std::move(puts)) {
    const v1::PutMetaRequest& first = *puts_.front()->put.request;
    key_ = LedgerOf(first);
  }

  // Checks the CARs and reads the ledger at the same time; the commit waits for both.
  void Start() {
    committer_->batch_puts_->Observe(static_cast<double>(puts_.size()));
    absl::flat_hash_set<std::string> seen;
    for (const auto& p : puts_) {
      for (const auto& e : p->put.entries) {
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
    committer_->blockstore_.HasCars(key_, std::move(cars),
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
      std::vector<std::unique_ptr<Pending>> keep;
      for (auto& p : puts_) {
        absl::Status s = MissingCar(p->put, missing);
        if (s.ok()) {
          keep.push_back(std::move(p));
        } else {
          p->done(s);
        }
      }
      puts_ = std::move(keep);
      if (puts_.empty()) {
        Finished();
        return;
      }
      ReadLedger();
      return;
    }
    OnLedger(std::move(first_read_));
  }

  static absl::Status MissingCar(const ValidatedPut& put,
                                 const absl::flat_hash_set<std::string>& missing) {
    for (const auto& e : put.entries) {
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
    req.set_tenant(key_.tenant());
    req.set_ledger(key_.ledger());
    candidates_.clear();
    absl::flat_hash_set<std::string> seen;
    for (const auto& p : puts_) {
      for (const auto& e : p->put.entries) {
        if (seen.insert(e.entry.cid).second) {
          candidates_.push_back({p->put.request, &e});
          req.add_probe_cids(e.entry.cid);
        }
      }
    }
    committer_->metadata_.GetLedger(std::move(req),
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
      const auto& [request, entry] = candidates_[i];
      fresh.push_back(entry->entry);
      *commit.add_entries() = request->entries(entry->index);
      commit.add_entry_writers(request->writer());
    }
    const auto& state = ledger->state();
    std::vector<std::string> heads(state.heads().begin(), state.heads().end());
    bool any_keys = false;
    absl::flat_hash_set<std::string> writers;
    for (const auto& p : puts_) {
      const v1::PutMetaRequest& request = *p->put.request;
      for (const auto& k : request.keys()) commit.add_keys(k);
      any_keys = any_keys || request.keys_size() > 0;
      if (writers.insert(request.writer()).second) commit.add_writers(request.writer());
    }
    if (fresh.empty() && !any_keys) {
      RespondAll(state.version(), heads);  // everything already accepted: idempotent
      return;
    }
    heads_ = AdvanceHeads(heads, fresh, referenced);
    commit.set_tenant(key_.tenant());
    commit.set_ledger(key_.ledger());
    commit.set_expected_version(state.version());
    for (const auto& h : heads_) commit.add_heads(h);
    committer_->metadata_.Commit(
        std::move(commit),
        [this](absl::StatusOr<metadata::v1::CommitResponse> r) { OnCommitted(std::move(r)); });
  }

  void OnCommitted(absl::StatusOr<metadata::v1::CommitResponse> result) {
    if (result.status().code() == absl::StatusCode::kAborted &&
        ++attempts_ < committer_->options_.max_commit_attempts) {
      committer_->commit_retries_->Increment();
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
    committer_->entries_accepted_->Increment(
        static_cast<double>(result->record().entry_cids_size()));
    RespondAll(result->version(), heads_);
  }

  void RespondAll(uint64_t version, const std::vector<std::string>& heads) {
    for (auto& p : puts_) p->done(Committed{version, heads});
    Finished();
  }

  void FailAll(const absl::Status& status) {
    for (auto& p : puts_) p->done(status);
    Finished();
  }

  void Finished() {
    Committer* committer = committer_;
    LedgerRef key = std::move(key_);
    delete this;
    committer->BatchDone(key);
  }

  Committer* committer_;
  std::vector<std::unique_ptr<Pending>> puts_;
  LedgerRef key_;
  std::vector<std::string> cars_;
  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  // Results of the first round, which runs the CAR check and the ledger read in parallel.
  bool cars_checked_ = false;
  absl::StatusOr<std::vector<bool>> cars_found_;
  absl::StatusOr<metadata::v1::GetLedgerResponse> first_read_;
  std::vector<std::pair<const v1::PutMetaRequest*, const ValidatedPut::Entry*>> candidates_;
  std::vector<std::string> heads_;
  int attempts_ = 0;
};

Committer::Committer(const CommitterOptions& options, BlockStoreClient& blockstore,
                     MetadataClient& metadata, prometheus::Registry& registry)
    : options_(options), blockstore_(blockstore), metadata_(metadata) {
  entries_accepted_ = &UnlabelledCounter(registry, "kiln_merge_entries_accepted_total",
                                         "Meta entries newly accepted into ledgers.");
  commit_retries_ =
      &UnlabelledCounter(registry, "kiln_merge_commit_retries_total",
                         "Commits retried because another writer advanced the ledger first.");
  batch_puts_ = &prometheus::BuildHistogram()
                     .Name("kiln_merge_batch_puts")
                     .Help("Puts carried by one ledger batch (one commit).")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64});
}

void Committer::Submit(ValidatedPut put, Done done) {
  Enqueue(std::make_unique<Pending>(Pending{std::move(put), std::move(done)}));
}

void Committer::Enqueue(std::unique_ptr<Pending> pending) {
  LedgerRef key = LedgerOf(*pending->put.request);
  {
    absl::MutexLock lock(&mu_);
    auto [it, idle] = queues_.try_emplace(key);
    if (!idle) {
      it->second.push_back(std::move(pending));  // the batch in flight takes it when it finishes
      return;
    }
  }
  std::vector<std::unique_ptr<Pending>> puts;
  puts.push_back(std::move(pending));
  (new Batch(this, std::move(puts)))->Start();
}

std::vector<std::unique_ptr<Committer::Pending>> Committer::TakeBatch(const LedgerRef& ledger_key) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(ledger_key);
  std::vector<std::unique_ptr<Pending>> puts;
  if (it == queues_.end()) return puts;
  size_t entries = 0;
  while (!it->second.empty() && puts.size() < options_.max_batch_puts) {
    size_t n = it->second.front()->put.entries.size();
    // Keep a commit within metadata's per-commit limits (one put alone always fits).
    if (!puts.empty() && entries + n > kMaxBatchEntries) break;
    entries += n;
    puts.push_back(std::move(it->second.front()));
    it->second.pop_front();
  }
  if (puts.empty()) queues_.erase(it);
  return puts;
}

void Committer::BatchDone(const LedgerRef& ledger_key) {
  std::vector<std::unique_ptr<Pending>> next = TakeBatch(ledger_key);
  if (!next.empty()) (new Batch(this, std::move(next)))->Start();
}

}  // namespace kiln::merge
