#include "services/blockstore/cache_backend.h"

#include <string>
#include <utility>

#include "common/status_macros.h"
#include "glog/logging.h"
#include "services/blockstore/key_codec.h"
#include "services/blockstore/stats_collectors.h"

namespace kiln::blockstore {
namespace {

// A copy of a blob's bytes for FRONT, kept only while it stays within the fill limit.
class FillCopy {
 public:
  FillCopy(uint64_t size, uint64_t limit) : limit_(limit), keep_(size <= limit) {}

  void Append(absl::string_view data) {
    if (!keep_) return;
    if (bytes_.size() + data.size() > limit_) {
      Drop();
      return;
    }
    bytes_.append(data.data(), data.size());
  }
  bool kept() const { return keep_; }
  absl::string_view bytes() const { return bytes_; }
  void Drop() {
    keep_ = false;
    std::string().swap(bytes_);
  }

 private:
  const uint64_t limit_;
  bool keep_;
  std::string bytes_;
};

}  // namespace

// Passes the blob on to BACK's writer; fills FRONT with the copy once BACK committed.
class CacheBlockBackend::FillingWriter : public BlobWriter {
 public:
  FillingWriter(CacheBlockBackend& cache, BlobKey key, uint64_t size,
                std::unique_ptr<BlobWriter> back)
      : cache_(cache),
        key_(std::move(key)),
        size_(size),
        back_(std::move(back)),
        copy_(size, cache.fill_limit()) {}

  size_t preferred_write_bytes() const override { return back_->preferred_write_bytes(); }
  uint64_t held_bytes() const override { return back_->held_bytes() + (copy_.kept() ? size_ : 0); }

  absl::Status Write(std::string data) override {
    copy_.Append(data);
    return back_->Write(std::move(data));
  }

  absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override {
    absl::StatusOr<PutOutcome> outcome = back_->Commit(digest);
    back_.reset();
    if (outcome.ok() && copy_.kept()) cache_.Fill(key_, copy_.bytes(), digest);
    copy_.Drop();
    return outcome;
  }

 private:
  CacheBlockBackend& cache_;
  const BlobKey key_;
  const uint64_t size_;
  std::unique_ptr<BlobWriter> back_;
  FillCopy copy_;
};

// Passes BACK's windows on; fills FRONT with the copy once the last window arrived (BACK's reader
// checked the digest before returning it).
class CacheBlockBackend::FillingReader : public BlobReader {
 public:
  FillingReader(CacheBlockBackend& cache, BlobKey key, std::unique_ptr<BlobReader> back)
      : cache_(cache),
        key_(std::move(key)),
        back_(std::move(back)),
        copy_(back_->info().size, cache.fill_limit()) {
    info_ = back_->info();
  }

  absl::StatusOr<absl::string_view> Read() override {
    KILN_ASSIGN_OR_RETURN(absl::string_view window, back_->Read());
    if (filled_) return window;
    copy_.Append(window);
    read_ += window.size();
    if (read_ >= info_.size) {
      filled_ = true;
      if (copy_.kept() && read_ == info_.size) cache_.Fill(key_, copy_.bytes(), info_.sha256);
      copy_.Drop();
    }
    return window;
  }

 private:
  CacheBlockBackend& cache_;
  const BlobKey key_;
  std::unique_ptr<BlobReader> back_;
  FillCopy copy_;
  uint64_t read_ = 0;
  bool filled_ = false;
};

CacheBlockBackend::CacheBlockBackend(std::unique_ptr<BlockBackend> front,
                                     std::unique_ptr<BlockBackend> back,
                                     const CacheBlockBackendOptions& options)
    : front_(std::move(front)),
      back_(std::move(back)),
      max_bytes_(options.max_bytes),
      max_blob_bytes_(options.max_blob_bytes) {}

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
  if (data.size() > fill_limit()) return;
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
  if (CountFrontRead(key, cached.status(), cached.ok() ? (*cached)->info().size : 0)) {
    return cached;
  }
  absl::StatusOr<std::unique_ptr<Blob>> blob = back_->Get(key);
  if (blob.ok()) Fill(key, (*blob)->data(), (*blob)->info().sha256);
  return blob;
}

absl::StatusOr<std::unique_ptr<BlobWriter>> CacheBlockBackend::NewWriter(const BlobKey& key,
                                                                         uint64_t size) {
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> back, back_->NewWriter(key, size));
  return std::unique_ptr<BlobWriter>(new FillingWriter(*this, key, size, std::move(back)));
}

absl::StatusOr<std::unique_ptr<BlobReader>> CacheBlockBackend::NewReader(const BlobKey& key) {
  absl::StatusOr<std::unique_ptr<BlobReader>> cached = front_->NewReader(key);
  if (CountFrontRead(key, cached.status(), cached.ok() ? (*cached)->info().size : 0)) {
    return cached;
  }
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, back_->NewReader(key));
  if (reader->info().size > fill_limit()) return reader;  // streams through, never gathered
  return std::unique_ptr<BlobReader>(new FillingReader(*this, key, std::move(reader)));
}

bool CacheBlockBackend::CountFrontRead(const BlobKey& key, const absl::Status& status,
                                       uint64_t size) {
  if (status.ok()) {
    stats_->hits.fetch_add(1);
    Evict(Track(key, size));
    return true;
  }
  if (status.code() == absl::StatusCode::kDataLoss) {
    LOG(ERROR) << "cache: front store copy is corrupt; dropping it and reading the back store";
    (void)front_->Delete(key);
    Untrack(key);
  }
  stats_->misses.fetch_add(1);
  return false;
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
