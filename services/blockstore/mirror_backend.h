// mirror(FIRST, SECOND): every blob is written to both stores and acknowledged only when both
// hold it; reads come from the first store that has a good copy (a miss, an outage or DATA_LOSS in
// FIRST falls through to SECOND). Repair() copies what one store lacks from the other, one
// (ledger, store) at a time, streaming each blob (BlobReader into BlobWriter).
//
// Put writes FIRST, then SECOND. When FIRST refuses (ALREADY_EXISTS, an error) SECOND is not
// touched; when SECOND refuses with ALREADY_EXISTS a blob FIRST just created is removed again, so
// the stores never end up holding different bytes for one key through this path. When SECOND is
// unreachable the put fails UNAVAILABLE and FIRST keeps the blob: a retry is idempotent, and
// Repair fills SECOND in.
//
// Streams: NewWriter tees every Write into a writer of each store (so where both stream, e.g.
// rocksdb:// and s3://, the mirror holds what the stores' writers hold, not the blob) and commits
// FIRST, then SECOND, with the outcomes settled as Put settles them. A Write that fails in either
// store fails the put before anything is committed, so neither store shows the blob. NewReader
// opens FIRST's reader and falls back to SECOND's as Get does. A corruption FIRST finds only in a
// later window (a store that streams, checking the digest at the end) ends that read with
// DATA_LOSS, as the windows before it are already delivered; the key is then remembered (up to
// kMaxSuspects keys, oldest forgotten first) and later reads of it try SECOND first, so a retry
// gets SECOND's good copy.
//
// Thread-safe as the two stores are; its own state is counters and the suspect keys (one mutex,
// never held across calls into the stores).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

class MirrorBlockBackend : public BlockBackend {
 public:
  MirrorBlockBackend(std::unique_ptr<BlockBackend> first, std::unique_ptr<BlockBackend> second);

  // Put: as documented above and in block_backend.h. Get: NOT_FOUND only when neither store has
  // the blob; DATA_LOSS when one is corrupt and the other lacks it; otherwise the first error.
  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                 const Sha256Digest& digest) override;
  absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) override;
  // Streamed Put and Get with the same outcomes (see above); NewReader returns Get's errors.
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key, uint64_t size) override;
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key) override;
  // A key is found when either store has it (FIRST's info wins).
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) override;
  // Deletes from both; NOT_FOUND only when neither had it.
  absl::Status Delete(const BlobKey& key) override;
  // The union of both stores' keys, in key order.
  absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store, absl::string_view start_after,
                                size_t limit) override;
  std::shared_ptr<prometheus::Collectable> StatsCollector() override;

  // Copies every blob of (ledger, store) that one store lacks from the other. Returns
  // the first List failure; copy failures are counted in the report.
  absl::StatusOr<RepairReport> Repair(const LedgerRef& ledger, Store store) override;

  static constexpr size_t kMaxSuspects = 4096;

  struct Stats {
    std::atomic<uint64_t> fallback_reads{0};  // Gets and readers answered by SECOND
    std::atomic<uint64_t> repaired{0};        // blobs copied by Repair
  };

 private:
  class TeeWriter;
  class SuspectingReader;
  // Completes a put that FIRST answered with `first`, given SECOND's answer (see above).
  absl::StatusOr<PutOutcome> Settle(const BlobKey& key, PutOutcome first,
                                    const absl::StatusOr<PutOutcome>& second);
  // `open` on FIRST, else on SECOND; the errors of Get.
  template <typename T>
  absl::StatusOr<T> FromFirstThatHas(absl::FunctionRef<absl::StatusOr<T>(BlockBackend&)> open);

  std::unique_ptr<BlockBackend> first_;
  std::unique_ptr<BlockBackend> second_;
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();

  // Keys (EncodeBlobKey) whose copy in FIRST failed a streamed read with DATA_LOSS.
  bool IsSuspect(const std::string& key);
  void SetSuspect(const std::string& key, bool suspect);
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> suspects_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> suspect_order_ ABSL_GUARDED_BY(mu_);  // oldest first
};

}  // namespace kiln::blockstore
