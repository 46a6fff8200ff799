// Feeds a WatchHub from the log when other processes commit to the same storage (metadata
// replicas sharing one PostgreSQL database): a commit through replica A reaches watchers on
// replica B in version order, with no gaps and no duplicates.
//
// For every ledger that has a watcher here, the follower keeps a cursor: the last version it
// published into the hub. It publishes only the event right after the cursor, read from the log
// (LedgerStore::EventsAfter), so what it publishes is contiguous. It reads when a hint says the
// ledger changed (CommitHints, e.g. LISTEN/NOTIFY), and polls every ledger it follows every
// `poll_interval`, so a lost hint, a dropped connection or a database restart only delays
// delivery. Commits made through this process are published at once when they are next in line
// (no read), and announced to the other replicas.
//
// A watcher starts being served through Follow(tenant, ledger, v) once it holds everything up to
// version v, which it read from storage after subscribing to the hub: whatever the follower then
// publishes above v reaches it, and what it published before the watcher subscribed is at or below
// v (it was committed before the watcher's read). The WatchReactor drops versions it already has.
//
// Threading: thread-safe. One background thread does the reads; OnLocalCommit may be called under
// LedgerStore's ledger lock (it never reads storage). Publishing happens under the follower's lock,
// so events of one ledger enter the hub in order.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/metadata/commit_hints.h"
#include "services/metadata/ledger_store.h"
#include "services/metadata/watch_hub.h"

namespace kiln::metadata {

struct LogFollowerOptions {
  // How often every followed ledger is re-read even without a hint.
  absl::Duration poll_interval = absl::Seconds(1);
  // Log records read per request.
  size_t batch = 500;
};

class LogFollower {
 public:
  // `store` and `hub` are not owned and must outlive the follower; `hints` may be nullptr
  // (polling only). Starts the background thread (and the hints).
  LogFollower(LedgerStore& store, WatchHub& hub, std::unique_ptr<CommitHints> hints,
              LogFollowerOptions options);
  ~LogFollower();  // stops the thread (and the hints) first

  // The LedgerStore commit listener of a shared backend. Never blocks on storage.
  void OnLocalCommit(const LedgerRef& ledger, std::shared_ptr<const v1::WatchEvent> event);

  // A watcher of `ledger` holds every version up to `version` (read from storage after it
  // subscribed to the hub): follow the ledger from there. Pair with Unfollow.
  void Follow(const LedgerRef& ledger, uint64_t version);
  void Unfollow(const LedgerRef& ledger);

  // `ledger` changed elsewhere: read it soon.
  void Hint(const LedgerRef& ledger);

 private:
  struct Followed {
    uint64_t cursor = 0;  // last version published into the hub
    int watchers = 0;
  };
  void Run();
  // Reads every followed ledger's version and marks those past their cursor.
  void Poll();
  // Reads and publishes what follows the cursor of `key`; false on a storage error.
  bool CatchUp(const LedgerRef& key);

  LedgerStore& store_;
  WatchHub& hub_;
  const LogFollowerOptions options_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<LedgerRef, Followed> followed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<LedgerRef> dirty_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<CommitHints> hints_;
  std::thread thread_;
};

}  // namespace kiln::metadata
