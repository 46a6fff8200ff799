// Ordered key-value storage under the metadata service. Implementations are picked by URL
// (kv_backends.h), are thread-safe, and may block: call them only from the I/O executor.
//
// Keys follow the layout in record_keys.h. An embedded backend (memory, RocksDB) belongs to one
// process; a shared one (PostgreSQL) is written by several metadata replicas at once, so
// compare-and-set goes through WriteIf, which the backend makes atomic in the storage itself.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "prometheus/collectable.h"
#include "services/metadata/commit_hints.h"

namespace kiln::metadata {

// A precondition for KvBackend::WriteIf: the record `key` still holds `expected` (nullopt: the
// record does not exist).
struct WriteCondition {
  std::string key;
  std::optional<std::string> expected;
};

class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // The value of `key`, or nullopt when absent. UNAVAILABLE/DATA_LOSS/INTERNAL on storage errors.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;

  // Values of several keys, in order.
  virtual absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      absl::Span<const std::string> keys) = 0;

  // Up to `limit` pairs with start <= key < end, ascending.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view start, absl::string_view end, size_t limit) = 0;

  // Applies every put atomically. Durable when this returns OK (WAL fsynced; concurrent writes
  // share fsyncs), unless the backend was opened without sync.
  virtual absl::Status Write(const std::vector<std::pair<std::string, std::string>>& puts) = 0;

  // Applies every put atomically if and only if `condition` holds at that moment, as one atomic
  // step even against other processes sharing the storage. ABORTED (nothing written) when the
  // condition fails; otherwise as Write. The conditioned record is only ever written through
  // WriteIf (a plain Write of it may race). Shared backends may require `condition.key` to be a
  // ledger header that `puts` also writes (INVALID_ARGUMENT otherwise).
  virtual absl::Status WriteIf(const WriteCondition& condition,
                               const std::vector<std::pair<std::string, std::string>>& puts) = 0;

  // Removes every record with start <= key < end for each (start, end) of `ranges`, all in one
  // atomic, durable write (as Write). Removing nothing is a success. Storage errors as Write.
  virtual absl::Status DeleteRanges(
      const std::vector<std::pair<std::string, std::string>>& ranges) = 0;

  // True when other processes may write the same records concurrently (metadata replicas on one
  // database): a process then learns of their commits only by reading (see LogFollower).
  virtual bool shared() const { return false; }

  // Cross-process "ledger changed" hints for a shared backend (e.g. PostgreSQL LISTEN/NOTIFY), or
  // nullptr when the backend has none (watchers of other replicas' commits then rely on polling).
  virtual std::unique_ptr<CommitHints> NewCommitHints() { return nullptr; }

  // Engine statistics computed at scrape time, or nullptr.
  virtual std::shared_ptr<prometheus::Collectable> StatsCollector() { return nullptr; }

  // Writes a consistent, openable copy of everything stored into `dir` (which must not exist).
  // Blocks. FAILED_PRECONDITION for backends with nothing on disk.
  virtual absl::Status Checkpoint(const std::string& dir) {
    (void)dir;
    return absl::FailedPreconditionError("this backend keeps nothing on disk to checkpoint");
  }
};

}  // namespace kiln::metadata
