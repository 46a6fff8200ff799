// Cross-process hints that a ledger changed, so a metadata replica's watchers learn quickly of
// commits made through another replica sharing the database. A hint carries no data and may be
// lost, duplicated or late: receivers always read what follows their last version from storage
// (LogFollower), and also poll, so a lost hint only delays a watcher. Pluggable because not every
// PostgreSQL-compatible database has LISTEN/NOTIFY (CockroachDB has none): without hints,
// polling alone delivers.
//
// Threading: implementations are thread-safe; Announce never blocks (it queues, and a background
// thread sends batches: one hint per changed ledger per batch, outside any commit transaction).
// Callbacks run on the implementation's own thread and must not block.
#pragma once

#include <functional>

#include "common/ledger_ref.h"

namespace kiln::metadata {

class CommitHints {
 public:
  struct Callbacks {
    // `ledger` changed somewhere (possibly in this process).
    std::function<void(const LedgerRef& ledger)> changed;
    // Hints may have been lost (the hint connection was re-established): re-read everything.
    std::function<void()> maybe_lost;
  };

  virtual ~CommitHints() = default;

  // Starts receiving hints; call once, before Announce.
  virtual void Start(Callbacks callbacks) = 0;

  // Tells other processes that `ledger` has a new commit. Never blocks; best effort.
  virtual void Announce(const LedgerRef& ledger) = 0;
};

}  // namespace kiln::metadata
