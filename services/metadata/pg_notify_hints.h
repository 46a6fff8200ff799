// CommitHints over PostgreSQL LISTEN/NOTIFY on the channel "kiln_commits".
//
// Announce queues the ledger; a sender thread sends whatever is queued as one NOTIFY per batch
// (the payload lists the changed ledgers, split below PostgreSQL's 8000-byte limit), outside any
// commit transaction, so notifications never serialise commits (NOTIFY inside a committing
// transaction takes a database-wide lock). A listener thread holds its own connection with LISTEN,
// reconnects with backoff when it drops, and reports `maybe_lost` after every (re)connect. Both
// threads hold their own connection, outside the pool.
//
// Threading: thread-safe; two threads of its own, stopped and joined by the destructor.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "services/metadata/commit_hints.h"
#include "services/metadata/pg_pool.h"

namespace kiln::metadata {

class PgNotifyHints : public CommitHints {
 public:
  // `pool` is not owned and must outlive this object.
  explicit PgNotifyHints(PgPool& pool);
  ~PgNotifyHints() override;

  void Start(Callbacks callbacks) override;
  void Announce(const LedgerRef& ledger) override;

 private:
  void SendLoop();
  // Sends one NOTIFY on the sender's own connection (opened again after a failure).
  absl::Status Send(const std::string& payload);
  void ListenLoop();
  // Listens on `conn` until it fails or Stop; returns false when stopping.
  bool Listen(PGconn* conn);
  bool WaitStopFor(absl::Duration d);

  PgPool& pool_;
  Callbacks callbacks_;
  int wake_[2] = {-1, -1};  // a pipe that wakes the listener's poll() on stop
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> pending_ ABSL_GUARDED_BY(mu_);  // encoded ledger names
  PgConnPtr sender_conn_;                                          // used by the sender thread only
  std::thread sender_;
  std::thread listener_;
};

// Hint payload codec ("<len>:<tenant><len>:<ledger>" repeated), exposed for tests.
std::string EncodeHintLedger(const LedgerRef& ledger);
// Decodes a payload; malformed parts end the decoding (hints are advisory, and their ids are not
// validated: they only name ledgers to re-read).
std::vector<LedgerRef> DecodeHintPayload(absl::string_view payload);

}  // namespace kiln::metadata
