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
// Thread-safe as the two stores are; no state of its own besides counters.
#pragma once

#include <atomic>
#include <memory>
#include <string>

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

  struct Stats {
    std::atomic<uint64_t> fallback_reads{0};  // Gets answered by SECOND
    std::atomic<uint64_t> repaired{0};        // blobs copied by Repair
  };

 private:
  std::unique_ptr<BlockBackend> first_;
  std::unique_ptr<BlockBackend> second_;
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();
};

}  // namespace kiln::blockstore
