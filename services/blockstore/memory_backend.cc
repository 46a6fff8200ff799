#include "services/blockstore/memory_backend.h"

#include <utility>

#include "services/blockstore/key_codec.h"

namespace kiln::blockstore {
namespace {

class SharedBlob : public Blob {
 public:
  SharedBlob(std::shared_ptr<const std::string> owner, absl::string_view data,
             const Sha256Digest& digest)
      : owner_(std::move(owner)), data_(data) {
    info_.size = data.size();
    info_.sha256 = digest;
  }
  absl::string_view data() const override { return data_; }

 private:
  std::shared_ptr<const std::string> owner_;
  absl::string_view data_;
};

}  // namespace

absl::StatusOr<PutOutcome> MemoryBlockBackend::Put(const BlobKey& key, absl::string_view data,
                                                   const Sha256Digest& digest) {
  std::string k = EncodeBlobKey(key);
  absl::MutexLock lock(&mu_);
  auto it = blobs_.find(k);
  if (it != blobs_.end()) {
    if (it->second->sha256 == digest && it->second->data.size() == data.size()) {
      return PutOutcome::kAlreadyPresent;
    }
    return absl::AlreadyExistsError(
        "the key already holds different bytes; the first blob is kept");
  }
  blobs_.emplace(std::move(k), std::make_shared<const Entry>(Entry{std::string(data), digest}));
  return PutOutcome::kCreated;
}

absl::StatusOr<std::unique_ptr<Blob>> MemoryBlockBackend::Get(const BlobKey& key) {
  std::shared_ptr<const Entry> entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = blobs_.find(EncodeBlobKey(key));
    if (it == blobs_.end()) return absl::NotFoundError("blob not found");
    entry = it->second;
  }
  // Verify outside the lock; the entry is immutable.
  if (Sha256(entry->data) != entry->sha256) {
    return absl::DataLossError("stored blob does not match its SHA-256; refusing to serve it");
  }
  std::shared_ptr<const std::string> bytes(entry, &entry->data);
  return std::unique_ptr<Blob>(new SharedBlob(bytes, entry->data, entry->sha256));
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> MemoryBlockBackend::BatchStat(
    const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) {
  std::string prefix = EncodeStorePrefix(ledger, store);
  std::vector<std::optional<BlobInfo>> out;
  out.reserve(keys.size());
  absl::MutexLock lock(&mu_);
  for (const std::string& key : keys) {
    auto it = blobs_.find(prefix + key);
    if (it == blobs_.end()) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(BlobInfo{it->second->data.size(), it->second->sha256});
    }
  }
  return out;
}

absl::Status MemoryBlockBackend::Delete(const BlobKey& key) {
  absl::MutexLock lock(&mu_);
  if (blobs_.erase(EncodeBlobKey(key)) == 0) return absl::NotFoundError("blob not found");
  return absl::OkStatus();
}

absl::StatusOr<ListPage> MemoryBlockBackend::List(const LedgerRef& ledger, Store store,
                                                  absl::string_view start_after, size_t limit) {
  std::string prefix = EncodeStorePrefix(ledger, store);
  std::string start = prefix + std::string(start_after);
  std::string end = PrefixUpperBound(prefix);
  ListPage page;
  absl::MutexLock lock(&mu_);
  auto it = start_after.empty() ? blobs_.lower_bound(start) : blobs_.upper_bound(start);
  for (; it != blobs_.end() && (end.empty() || it->first < end); ++it) {
    if (page.entries.size() == limit) {
      page.more = true;
      break;
    }
    page.entries.push_back({it->first.substr(prefix.size()), it->second->data.size()});
  }
  return page;
}

}  // namespace kiln::blockstore
