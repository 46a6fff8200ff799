// cache(FRONT, BACK, max_bytes=N, max_blob_bytes=M): a bounded front store (memory:// or
// rocksdb://) in front of a durable back store. Writes go through to BACK first (the write is
// acknowledged when BACK holds it), then fill FRONT; reads are served from FRONT when it has the
// blob and otherwise from BACK, filling FRONT. FRONT holds at most `max_bytes` of blobs the cache
// has seen: the least recently used are deleted from it first. Blobs larger than the fill limit,
// the smaller of `max_blob_bytes` and `max_bytes`, are never cached. BACK is the authority for
// BatchStat, List and Delete.
//
// Streams: NewWriter passes each Write on to BACK's writer and keeps a copy for FRONT only when
// the declared size is within the fill limit (FRONT is filled once BACK committed); NewReader
// serves a hit with FRONT's reader and a miss with BACK's, keeping a copy only when the size
// BACK's reader reports is within the fill limit (FRONT is filled once the last window arrived,
// i.e. verified). A blob above the fill limit therefore passes in BACK's parts and windows and is
// never held whole by the cache.
//
// A RocksDB front keeps its blobs across restarts, but the LRU bookkeeping lives in memory: blobs
// cached before a restart are adopted (and counted) when they are next read. Point a RocksDB front
// at a directory of its own and remove it before start when the byte bound must hold strictly.
//
// Thread-safe: the LRU index has one mutex, never held across calls into FRONT or BACK. FRONT
// failures never fail a call: the cache falls back to BACK (a DATA_LOSS in FRONT drops the entry).
// FRONT (memory:// or rocksdb://) checks a blob's digest before its reader returns any of it, so a
// corrupt cached copy is always found in time to read BACK instead.
#pragma once

#include <algorithm>
#include <atomic>
#include <list>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

struct CacheBlockBackendOptions {
  uint64_t max_bytes = 256ull << 20;      // bytes of blobs FRONT holds at most
  uint64_t max_blob_bytes = 16ull << 20;  // larger blobs are not cached (nor gathered to be)
};

class CacheBlockBackend : public BlockBackend {
 public:
  CacheBlockBackend(std::unique_ptr<BlockBackend> front, std::unique_ptr<BlockBackend> back,
                    const CacheBlockBackendOptions& options);

  // Status codes as BACK returns them (see block_backend.h).
  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                 const Sha256Digest& digest) override;
  absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key, uint64_t size) override;
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key) override;
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) override;
  absl::Status Delete(const BlobKey& key) override;
  absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store, absl::string_view start_after,
                                size_t limit) override;
  std::shared_ptr<prometheus::Collectable> StatsCollector() override;

  // Bytes of blobs the cache currently accounts for in FRONT.
  uint64_t cached_bytes();

  struct Stats {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> evictions{0};
    std::atomic<uint64_t> bytes{0};
  };

 private:
  class FillingWriter;
  class FillingReader;

  // The largest blob the cache fills FRONT with.
  uint64_t fill_limit() const { return std::min(max_bytes_, max_blob_bytes_); }
  // Counts a read of `key` from FRONT that returned `status`: true for a hit (of `size` bytes,
  // now the most recently used), false for a miss (a corrupt copy is dropped from FRONT).
  bool CountFrontRead(const BlobKey& key, const absl::Status& status, uint64_t size);
  // Records `key` (of `size` bytes) as most recently used and returns the keys to evict.
  std::vector<BlobKey> Track(const BlobKey& key, uint64_t size);
  void Untrack(const BlobKey& key);
  void Fill(const BlobKey& key, absl::string_view data, const Sha256Digest& digest);
  void Evict(const std::vector<BlobKey>& keys);

  std::unique_ptr<BlockBackend> front_;
  std::unique_ptr<BlockBackend> back_;
  const uint64_t max_bytes_;
  const uint64_t max_blob_bytes_;
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();

  struct Entry {
    BlobKey key;
    uint64_t size;
  };
  absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln::blockstore
