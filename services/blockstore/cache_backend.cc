#include "services/blockstore/cache_backend.h"

#include <utility>

#include "glog/logging.h"
#include "services/blockstore/key_codec.h"
#include "services/blockstore/stats_collectors.h"

namespace kiln::blockstore {

CacheBlockBackend::CacheBlockBackend(std::unique_ptr<BlockBackend> front,
                                     std::unique_ptr<BlockBackend> back, uint64_t max_bytes)
    : front_(std::move(front)), back_(std::move(back)), max_bytes_(max_bytes) {}

std::vector<BlobKey> CacheBlockBackend::Track(const BlobKey& key, uint64_t size) {
  std::vector<BlobKey> evict;
  absl::MutexLock lock(&mu_);
  std::string k = EncodeBlobKey(key);
  auto it = index_.find(k);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return evict;
  }
  lru_.push_front({key, size});
  index_[k] = lru_.begin();
  bytes_ += size;
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    Entry& victim = lru_.back();
    bytes_ -= victim.size;
    index_.erase(EncodeBlobKey(victim.key));
    evict.push_back(std::move(victim.key));
    lru_.pop_back();
  }
  stats_->bytes.store(bytes_);
  return evict;
}

void CacheBlockBackend::Untrack(const BlobKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(EncodeBlobKey(key));
  if (it == index_.end()) return;
  bytes_ -= it->second->size;
  lru_.erase(it->second);
  index_.erase(it);
  stats_->bytes.store(bytes_);
}

void CacheBlockBackend::Evict(const std::vector<BlobKey>& keys) {
  for (const BlobKey& key : keys) {
    absl::Status s = front_->Delete(key);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
      LOG(WARNING) << "cache: evicting a blob from the front store failed: " << s.message();
    }
    stats_->evictions.fetch_add(1);
  }
}

void CacheBlockBackend::Fill(const BlobKey& key, absl::string_view data,
                             const Sha256Digest& digest) {
  if (data.size() > max_bytes_) return;
  absl::StatusOr<PutOutcome> put = front_->Put(key, data, digest);
  if (put.status().code() == absl::StatusCode::kAlreadyExists) {
    // The front holds stale bytes for this key (deleted and rewritten behind the cache).
    (void)front_->Delete(key);
    put = front_->Put(key, data, digest);
  }
  if (!put.ok()) {
    LOG(WARNING) << "cache: filling the front store failed: " << put.status().message();
    return;
  }
  Evict(Track(key, data.size()));
}

absl::StatusOr<PutOutcome> CacheBlockBackend::Put(const BlobKey& key, absl::string_view data,
                                                  const Sha256Digest& digest) {
  absl::StatusOr<PutOutcome> outcome = back_->Put(key, data, digest);
  if (outcome.ok()) Fill(key, data, digest);
  return outcome;
}

absl::StatusOr<std::unique_ptr<Blob>> CacheBlockBackend::Get(const BlobKey& key) {
  absl::StatusOr<std::unique_ptr<Blob>> cached = front_->Get(key);
  if (cached.ok()) {
    stats_->hits.fetch_add(1);
    Evict(Track(key, (*cached)->info().size));
    return cached;
  }
  if (cached.status().code() == absl::StatusCode::kDataLoss) {
    LOG(ERROR) << "cache: front store copy is corrupt; dropping it and reading the back store";
    (void)front_->Delete(key);
    Untrack(key);
  }
  stats_->misses.fetch_add(1);
  absl::StatusOr<std::unique_ptr<Blob>> blob = back_->Get(key);
  if (blob.ok()) Fill(key, (*blob)->data(), (*blob)->info().sha256);
  return blob;
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> CacheBlockBackend::BatchStat(
    const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) {
  return back_->BatchStat(ledger, store, keys);
}

absl::Status CacheBlockBackend::Delete(const BlobKey& key) {
  absl::Status status = back_->Delete(key);
  if (status.ok() || status.code() == absl::StatusCode::kNotFound) {
    (void)front_->Delete(key);
    Untrack(key);
  }
  return status;
}

absl::StatusOr<ListPage> CacheBlockBackend::List(const LedgerRef& ledger, Store store,
                                                 absl::string_view start_after, size_t limit) {
  return back_->List(ledger, store, start_after, limit);
}

uint64_t CacheBlockBackend::cached_bytes() {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

std::shared_ptr<prometheus::Collectable> CacheBlockBackend::StatsCollector() {
  auto own = [stats = stats_] {
    return std::vector<prometheus::MetricFamily>{
        CounterFamily("kiln_blockstore_cache_hits_total", "Gets served by the cache's front store.",
                      static_cast<double>(stats->hits.load())),
        CounterFamily("kiln_blockstore_cache_misses_total",
                      "Gets that went to the cache's back store.",
                      static_cast<double>(stats->misses.load())),
        CounterFamily("kiln_blockstore_cache_evictions_total",
                      "Blobs removed from the front store to stay within max_bytes.",
                      static_cast<double>(stats->evictions.load())),
        GaugeFamily("kiln_blockstore_cache_bytes", "Bytes of blobs held in the front store.",
                    static_cast<double>(stats->bytes.load()))};
  };
  return std::make_shared<CombinedCollector>(
      own, std::vector<std::shared_ptr<prometheus::Collectable>>{front_->StatsCollector(),
                                                                 back_->StatsCollector()});
}

}  // namespace kiln::blockstore
