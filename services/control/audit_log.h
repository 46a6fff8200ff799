// The control plane's audit log: an append-only file of what operators changed (ledger creation
// and deletion, tokens issued), one JSON object per line (protobuf JSON of AuditEvent), each
// append fsynced before the call that caused it answers. Kept in memory too, for reads.
//
// Threading: thread-safe; Append blocks on the disk (call it from the executor).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kiln/control/v1/control.pb.h"

namespace kiln::control {

class AuditLog {
 public:
  // Opens (creating it if missing) the log at `path`; empty `path` keeps it in memory only (tests).
  // DATA_LOSS naming the line when an existing line is not an AuditEvent or sequence numbers are
  // not consecutive; UNAVAILABLE when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // Assigns the next sequence number and appends `event`; returns the number. UNAVAILABLE when
  // the write or fsync fails (the event is then not recorded).
  absl::StatusOr<uint64_t> Append(v1::AuditEvent event);

  // Up to `limit` events from `from_seq` (>= 1), in order.
  std::vector<v1::AuditEvent> Read(uint64_t from_seq, size_t limit) const;

 private:
  AuditLog(int fd, std::vector<v1::AuditEvent> events) : fd_(fd), events_(std::move(events)) {}

  const int fd_;  // -1: memory only
  mutable absl::Mutex mu_;
  std::vector<v1::AuditEvent> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::control
