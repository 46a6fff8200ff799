// rocksdb:///path block backend. Two column families: "blobs" holds [format][sha256][bytes] per
// blob (large values go to RocksDB blob files), "stats" holds [format][size][sha256], so existence
// checks and listings never read blob bytes. Both are written in one WriteBatch.
//
// Durability: with sync (the default) a put returns only after its WAL record is fsynced.
// Concurrent writers are grouped by RocksDB's write-group leader into one WAL write and one fsync
// (group commit), so throughput scales with concurrency instead of one fsync per put.
//
// Thread-safe. Put and Delete take a per-key stripe lock so that check-then-write is atomic.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/rocksdb_stats.h"
#include "services/blockstore/block_backend.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Statistics;
}  // namespace rocksdb

namespace kiln::blockstore {

struct RocksDbBlockBackendOptions {
  std::string path;                       // database directory; created when missing
  bool sync = true;                       // fsync the WAL before acknowledging a write
  uint64_t block_cache_bytes = 64 << 20;  // cache for the stats family and small blobs
  uint64_t min_blob_file_value = 4096;    // values at least this big go to blob files
};

class RocksDbBlockBackend : public BlockBackend {
 public:
  // Opens (creating if needed) the database. Returns UNAVAILABLE when the directory cannot be
  // opened (in use by another process, permissions), DATA_LOSS when RocksDB reports corruption.
  static absl::StatusOr<std::unique_ptr<RocksDbBlockBackend>> Open(
      const RocksDbBlockBackendOptions& options);
  ~RocksDbBlockBackend() override;

  // As documented in block_backend.h, with RocksDB's own failures mapped by FromRocksDbStatus
  // (common/rocksdb_status.h): UNAVAILABLE for I/O errors, RESOURCE_EXHAUSTED when the disk is
  // full, and DATA_LOSS also when RocksDB finds its files damaged (a block checksum mismatch), not
  // only when a blob's bytes no longer match their digest.
  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                 const Sha256Digest& digest) override;
  absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) override;
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) override;
  absl::Status Delete(const BlobKey& key) override;
  absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store, absl::string_view start_after,
                                size_t limit) override;
  std::shared_ptr<prometheus::Collectable> StatsCollector() override;
  absl::Status Checkpoint(const std::string& dir) override;

  // Name of the column family holding blob bytes (for tests that inspect the files).
  static constexpr char kBlobsFamily[] = "blobs";

 private:
  RocksDbBlockBackend(const RocksDbBlockBackendOptions& options, rocksdb::DB* db,
                      std::vector<rocksdb::ColumnFamilyHandle*> handles,
                      std::shared_ptr<rocksdb::Statistics> statistics);
  absl::Mutex& StripeFor(absl::string_view storage_key);
  // Reads the stats record of `storage_key`; nullopt when missing.
  absl::StatusOr<std::optional<BlobInfo>> ReadInfo(absl::string_view storage_key);

  const RocksDbBlockBackendOptions options_;
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, blobs, stats
  rocksdb::ColumnFamilyHandle* blobs_cf_;
  rocksdb::ColumnFamilyHandle* stats_cf_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::shared_ptr<RocksDbStatsCollector> collector_;
  std::array<absl::Mutex, 256> stripes_;
};

}  // namespace kiln::blockstore
