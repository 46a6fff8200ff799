// The write path of the merge service, apart from gRPC serving: batches validated puts per
// ledger, checks their CARs in the block-store, advances the head set (heads.h) and commits
// through metadata's compare-and-set, recomputing and retrying when another writer got there
// first, up to max_commit_attempts.
//
// Batching: puts to the same ledger form a queue; one batch per ledger is in flight at a time and
// carries every put that arrived meanwhile (up to max_batch_puts, and within metadata's
// per-commit entry limit), with one block-store check, one ledger read and one commit. This
// removes compare-and-set contention between writers of a ledger on the same instance (instances
// still contend, and retry) and shares peer calls among puts.
//
// Threading: thread-safe. Submit never blocks; `done` runs on a peer's callback thread (or inline
// when a peer fails at once) and is the only place a put's request may be released.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/ledger_ref.h"
#include "kiln/merge/v1/merge.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/merge/heads.h"
#include "services/merge/peers.h"

namespace kiln::merge {

struct CommitterOptions {
  // Compare-and-set attempts before giving up with ABORTED.
  int max_commit_attempts = 32;
  // Most puts in one batch.
  size_t max_batch_puts = 64;
};

// A put whose entries have been decoded and checked (merge_service.cc).
struct ValidatedPut {
  struct Entry {
    int index;  // in the request
    NewEntry entry;
    std::vector<std::string> cars;  // the CAR CIDs its event names
  };
  const v1::PutMetaRequest* request = nullptr;  // not owned; valid until `done` has run
  std::vector<Entry> entries;                   // without duplicates within the put
};

// What a successful put is answered with.
struct Committed {
  uint64_t version = 0;
  std::vector<std::string> heads;
};

class Committer {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<Committed>)>;

  // `blockstore` and `metadata` must outlive the committer. Registers
  // kiln_merge_entries_accepted_total, kiln_merge_commit_retries_total and kiln_merge_batch_puts.
  Committer(const CommitterOptions& options, BlockStoreClient& blockstore, MetadataClient& metadata,
            prometheus::Registry& registry);

  // Commits `put` together with the other puts queued for its ledger. `done` runs exactly once:
  // the ledger's version and heads after the commit (also when every entry was already
  // accepted: puts are idempotent); FAILED_PRECONDITION naming a CAR that the block-store lacks;
  // ABORTED after max_commit_attempts lost compare-and-sets; or a peer's error (UNAVAILABLE...).
  void Submit(ValidatedPut put, Done done);

 private:
  struct Pending {
    ValidatedPut put;
    Done done;
  };
  class Batch;

  // Starts a batch when none is in flight for the put's ledger, else queues it.
  void Enqueue(std::unique_ptr<Pending> pending);
  // Called when a ledger's batch has finished: starts the next one or marks the ledger idle.
  void BatchDone(const LedgerRef& ledger);
  // Takes up to max_batch_puts queued puts of the ledger; empty marks the ledger idle.
  std::vector<std::unique_ptr<Pending>> TakeBatch(const LedgerRef& ledger);

  const CommitterOptions options_;
  BlockStoreClient& blockstore_;
  MetadataClient& metadata_;
  prometheus::Counter* entries_accepted_;
  prometheus::Counter* commit_retries_;
  prometheus::Histogram* batch_puts_;

  absl::Mutex mu_;
  // Per ledger with a batch in flight: the puts waiting for the next batch.
  absl::flat_hash_map<LedgerRef, std::deque<std::unique_ptr<Pending>>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::merge
