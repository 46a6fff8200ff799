// Ordered key-value storage under the metadata service. Implementations are picked by URL
// (kv_backends.h), are thread-safe, and may block: call them only from the I/O executor.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "prometheus/collectable.h"

namespace kiln::metadata {

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
