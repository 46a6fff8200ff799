// Live push across edges: for every ledger that at least one WebSocket connection on this edge
// has bound, one metadata Watch stream; each committed change is pushed as `eventGetMeta` to every
// bound connection (the writer's too, see followers.cc), with that receiver's own `conn`. Because
// every edge follows metadata, a put on any edge reaches connections on all edges.
//
// The feed comes from a LedgerWatcher (ledger_watcher.h: metadata's Watch, restarted with backoff;
// a fake in tests). A watch that fails with a permanent error (a bad name, a shard mismatch) ends
// the follow: its connections get no more pushes until a later bind.
// One that ends with NOT_FOUND (the ledger was deleted through kiln-control) sends each bound
// connection an `error` with its own conn, which ends the client's bind stream with that message.
//
// A follower whose token has expired gets no pushes (they are counted as withheld) until the
// connection presents a valid token again (Renew); it is then served the ledger afresh.
//
// Threading: thread-safe. Watch callbacks run on gRPC threads and only queue pushes. A stream that
// ends (metadata restarting, watcher cut off) resumes after the last version seen, so a
// connection misses nothing and gets nothing twice (events at or below a version already
// delivered are skipped here too).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ledger_ref.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/edge/ledger_watcher.h"
#include "services/edge/messages.h"
#include "services/edge/session.h"

namespace kiln::edge {

class LedgerFollowers {
 public:
  // Ledgers are watched through `watcher`, which must outlive the followers; `clock` decides
  // when tokens have expired.
  LedgerFollowers(LedgerWatcher& watcher, const Clock& clock, prometheus::Registry& registry);
  ~LedgerFollowers();

  // Pushes later changes of `ledger` to `session`, shaped like `bind` (the client's decoded
  // bindGetMeta, reused for tid, auth, tenant, methodParam and urlParam), until `token_expires`.
  void Follow(const LedgerRef& ledger, const std::shared_ptr<ClientSession>& session, Message bind,
              absl::Time token_expires);

  // `session` was served the ledger as of `version`: changes up to it are not pushed to it again.
  void Served(const LedgerRef& ledger, ClientSession* session, uint64_t version);

  // `session` presented a valid token for `ledger` that expires at `token_expires`. When
  // pushes to it were withheld because its earlier token had expired, returns its bind message:
  // the caller serves it the ledger afresh (and calls Served).
  std::optional<Message> Renew(const LedgerRef& ledger, ClientSession* session,
                               absl::Time token_expires);

  // Stops every push to `session` (call when its connection closes).
  void Unfollow(ClientSession* session);

  // Ledgers being watched.
  size_t followed_ledgers() const;

 private:
  class Ledger;

  // Starts the watch of `ledger` (just added to ledgers_).
  void StartWatch(const std::shared_ptr<Ledger>& ledger);
  // Pushes `event` to the ledger's followers.
  void Deliver(Ledger& ledger, const metadata::v1::WatchEvent& event);
  // The watch of `ledger` ended (cancelled, or failed for good).
  void WatchEnded(const std::shared_ptr<Ledger>& ledger, const absl::Status& status);

  // Drops `ledger` (whose Watch failed for good) so that a later Follow starts afresh.
  void Forget(const std::shared_ptr<Ledger>& ledger);
  // The followers of `ledger`, or null.
  std::shared_ptr<Ledger> Find(const LedgerRef& ledger);

  LedgerWatcher& watcher_;
  const Clock& clock_;
  prometheus::Counter* pushes_;
  prometheus::Counter* withheld_;
  mutable absl::Mutex mu_;
  int live_watches_ ABSL_GUARDED_BY(mu_) = 0;  // the destructor waits for them to end
  absl::flat_hash_map<LedgerRef, std::shared_ptr<Ledger>> ledgers_ ABSL_GUARDED_BY(mu_);
  // Which ledgers each session follows, for Unfollow.
  absl::flat_hash_map<ClientSession*, std::vector<LedgerRef>> by_session_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::edge
