// Storage interface of the block-store: immutable blobs addressed by (ledger, store, key),
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
#include "common/ledger_ref.h"
#include "common/sha256.h"
#include "common/store_kind.h"
#include "prometheus/collectable.h"

namespace kiln::blockstore {

// Which of a ledger's blob stores (common/store_kind.h).
using Store = ::kiln::StoreKind;

// The address of a blob. Inputs are validated by the service before they reach a backend.
struct BlobKey {
  LedgerRef ledger;
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

// What one repair pass of a redundant backend did (BlockBackend::Repair).
struct RepairReport {
  uint64_t copied_to_first = 0;
  uint64_t copied_to_second = 0;
  // Blobs that could not be copied (unreadable or refused); their keys are not listed.
  uint64_t failed = 0;
};

// Takes one blob's bytes in order and stores them on Commit (BlockBackend::NewWriter), so a large
// blob need not be held whole in memory. Used by one thread at a time; Write and Commit block.
class BlobWriter {
 public:
  // Without a successful Commit nothing is stored and nothing partial is visible (an unfinished
  // upload is abandoned; this may block briefly on the network).
  virtual ~BlobWriter() = default;

  // How many bytes the writer takes best per Write: callers gather smaller chunks up to it. A
  // writer of one store holds no more than about this much of the blob at once.
  virtual size_t preferred_write_bytes() const = 0;

  // About how many bytes of the blob the writer holds at most at once, for the service's limit on
  // bytes in flight: preferred_write_bytes() unless the writer feeds several stores (mirror(...)
  // adds up its two writers, cache(...) its copy for the front store).
  virtual uint64_t held_bytes() const { return preferred_write_bytes(); }

  // Appends the next bytes (taken by value so a writer may keep the buffer without copying it).
  // UNAVAILABLE/INTERNAL when storage fails (then only destruction is left). The caller has
  // checked that the total does not exceed the declared size.
  virtual absl::Status Write(std::string data) = 0;

  // Stores the blob once all declared bytes were written; `digest` is their SHA-256, computed by
  // the caller. Returns as BlockBackend::Put.
  virtual absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) = 0;
};

// Reads one blob in order, a window at a time (BlockBackend::NewReader). Used by one thread at a
// time; Read blocks.
class BlobReader {
 public:
  virtual ~BlobReader() = default;

  // Size and digest of the blob, known when the reader is opened.
  const BlobInfo& info() const { return info_; }

  // The next bytes, empty at the end; the view stays valid until the next call. A blob whose
  // bytes do not match its digest fails with DATA_LOSS instead of returning the window that
  // completes it, so it is never delivered whole (a blob that fits one window is checked before
  // any of it is returned). UNAVAILABLE when storage fails midway.
  virtual absl::StatusOr<absl::string_view> Read() = 0;

 protected:
  BlobInfo info_;
};

// For writers that gather a whole blob of `size` bytes: appends the next `batch` to `gathered`,
// keeping the first batch's buffer as it is (the usual case: one batch holds the whole blob).
void GatherBatch(std::string& gathered, std::string batch, uint64_t size);

// Reads `reader` to its end into one string, for callers that need the whole blob (Get on a store
// that streams, tests). Returns the first error of Read (DATA_LOSS, UNAVAILABLE).
absl::StatusOr<std::string> ReadAll(BlobReader& reader);

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

  // A writer for a blob of `size` bytes under `key` (see BlobWriter); `size` has been checked
  // against the service's limit. Must not block: it only prepares. The default gathers the whole
  // blob and calls Put on Commit; backends that can stream override it.
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key, uint64_t size);

  // A reader of the blob under `key` (see BlobReader). NOT_FOUND when missing; may return the
  // errors of Get. Blocks. The default reads the whole blob with Get and returns it as one
  // window; backends that can stream override it.
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key);

  // For each of `keys` of one store, its size and digest or nullopt when missing, in order.
  virtual absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) = 0;

  // Deletes a blob; NOT_FOUND when missing.
  virtual absl::Status Delete(const BlobKey& key) = 0;

  // Up to `limit` blobs of one store with keys greater than `start_after`, in key order.
  virtual absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store,
                                        absl::string_view start_after, size_t limit) = 0;

  // For backends that keep redundant copies (mirror): copies every blob of (ledger, store)
  // that one copy lacks from another. Blocks. Returns the first List failure; copy failures are
  // counted in the report. FAILED_PRECONDITION for backends with nothing to repair (the default).
  virtual absl::StatusOr<RepairReport> Repair(const LedgerRef& ledger, Store store) {
    (void)ledger;
    (void)store;
    return absl::FailedPreconditionError("only mirror(...) block backends keep copies to repair");
  }

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
