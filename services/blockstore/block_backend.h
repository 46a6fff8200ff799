// Storage interface of the block-store: immutable blobs addressed by (tenant, ledger, store, key),
// each stored with the SHA-256 of its bytes and verified on every read.
//
// Implementations are chosen by URL (see backends.h) and must be thread-safe: the service calls
// them concurrently from its I/O executor. Calls may block (disk, fsync); never call them from a
// gRPC reactor thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/sha256.h"
#include "prometheus/collectable.h"

namespace kiln::blockstore {

enum class Store : uint8_t { kCar = 1, kFile = 2, kMeta = 3, kWal = 4 };

// The address of a blob. Inputs are validated by the service before they reach a backend.
struct BlobKey {
  std::string tenant;
  std::string ledger;
  Store store = Store::kCar;
  std::string key;
};

// Size and digest of a stored blob.
struct BlobInfo {
  uint64_t size = 0;
  Sha256Digest sha256{};
};

// The verified bytes of one blob, held in memory for as long as this object lives.
class Blob {
 public:
  virtual ~Blob() = default;
  virtual absl::string_view data() const = 0;
  const BlobInfo& info() const { return info_; }

 protected:
  BlobInfo info_;
};

enum class PutOutcome { kCreated, kAlreadyPresent };

// One page of List.
struct ListPage {
  struct Entry {
    std::string key;
    uint64_t size = 0;
  };
  std::vector<Entry> entries;
  bool more = false;  // true when entries after the last one exist
};

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;

  // Stores `data` under `key`; `digest` is its SHA-256, computed by the caller. Returns kCreated
  // for a new blob, kAlreadyPresent when identical bytes are stored already, ALREADY_EXISTS when
  // the key holds different bytes (those are kept), UNAVAILABLE/INTERNAL when storage fails. The
  // write is durable when this returns OK (unless the backend was opened without sync).
  virtual absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                         const Sha256Digest& digest) = 0;

  // Returns the blob, NOT_FOUND when missing, DATA_LOSS when the stored bytes no longer match
  // their digest (the bad bytes are not returned).
  virtual absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) = 0;

  // For each of `keys` of one store, its size and digest or nullopt when missing, in order.
  virtual absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      absl::string_view tenant, absl::string_view ledger, Store store,
      absl::Span<const std::string> keys) = 0;

  // Deletes a blob; NOT_FOUND when missing.
  virtual absl::Status Delete(const BlobKey& key) = 0;

  // Up to `limit` blobs of one store with keys greater than `start_after`, in key order.
  virtual absl::StatusOr<ListPage> List(absl::string_view tenant, absl::string_view ledger,
                                        Store store, absl::string_view start_after,
                                        size_t limit) = 0;

  // Engine statistics computed at scrape time, or nullptr when the backend has none.
  virtual std::shared_ptr<prometheus::Collectable> StatsCollector() { return nullptr; }

  // Writes a consistent, openable copy of everything stored into `dir` (which must not exist).
  // Blocks. FAILED_PRECONDITION for backends with nothing on disk.
  virtual absl::Status Checkpoint(const std::string& dir) {
    (void)dir;
    return absl::FailedPreconditionError("this backend keeps nothing on disk to checkpoint");
  }
};

}  // namespace kiln::blockstore
