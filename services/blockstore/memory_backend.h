// memory:// block backend: blobs in process memory, lost on exit. For tests and ephemeral use.
// Thread-safe (one mutex; blob bytes are shared immutably with readers, so reads copy nothing).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

class MemoryBlockBackend : public BlockBackend {
 public:
  MemoryBlockBackend() = default;

  // As documented in block_backend.h; nothing fails for want of storage (no UNAVAILABLE or
  // INTERNAL), so a Put is refused only with ALREADY_EXISTS.
  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                 const Sha256Digest& digest) override;
  absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) override;
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) override;
  absl::Status Delete(const BlobKey& key) override;
  absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store, absl::string_view start_after,
                                size_t limit) override;

 private:
  struct Entry {
    std::string data;
    Sha256Digest sha256;
  };
  absl::Mutex mu_;
  // Keyed by EncodeBlobKey, so one store's blobs are contiguous and in key order.
  std::map<std::string, std::shared_ptr<const Entry>> blobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::blockstore
