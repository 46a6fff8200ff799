// The feed of one ledger's committed changes that LedgerFollowers (followers.h) pushes from: an
// interface, so that the followers are tested with a fake (tests/edge/fake_ledger_watcher.h),
// and its gRPC implementation over metadata's Watch.
//
// The gRPC implementation restarts a Watch stream that ends (metadata restarting, the watcher cut
// off), resuming after the last version it delivered, after a backoff on the injected scheduler:
// `first` at first, doubling up to `max` while streams end without delivering an event. A
// permanent error (INVALID_ARGUMENT, FAILED_PRECONDITION as for a shard mismatch,
// PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED, OUT_OF_RANGE) ends the follow instead.
//
// Threading: thread-safe. Handlers run on gRPC (or scheduler) threads, one at a time per watch,
// and must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/shards.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::edge {

// One ledger being watched.
class LedgerWatch {
 public:
  virtual ~LedgerWatch() = default;
  // Stops the watch: on_end follows with CANCELLED unless it has run already. Never blocks; may
  // run on_end on the calling thread, so hold no lock that on_end takes.
  virtual void Cancel() = 0;
};

class LedgerWatcher {
 public:
  struct Handlers {
    // Each event, in order (a fresh stream starts with a snapshot; after a restart, events
    // resume after the last version delivered).
    std::function<void(const metadata::v1::WatchEvent&)> on_event;
    // Runs exactly once, last: CANCELLED after Cancel, or the permanent error that ended the
    // watch. The watch drops both handlers once it has run.
    std::function<void(const absl::Status&)> on_end;
  };
  virtual ~LedgerWatcher() = default;
  // Starts watching `ledger` from its current state. The watcher must outlive the watch's on_end.
  virtual std::shared_ptr<LedgerWatch> Watch(const LedgerRef& ledger, Handlers handlers) = 0;
};

struct WatchBackoff {
  absl::Duration first = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(10);
};

// Watches each ledger on its metadata shard; restarts wait on `scheduler`.
std::unique_ptr<LedgerWatcher> NewGrpcLedgerWatcher(const ShardedChannels& metadata,
                                                    Scheduler& scheduler,
                                                    WatchBackoff backoff = {});

// A Scheduler on gRPC alarms (the system clock). Process-wide instance; thread-safe.
Scheduler& GrpcAlarmScheduler();

}  // namespace kiln::edge
