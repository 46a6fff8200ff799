// What each HTTP-polling connection has already been sent, so that a poll is answered with only
// the entries and keys committed since its previous poll instead of the whole reader set
// (--websocket=false clients re-send bindGetMeta every second; protocol doc section 1).
//
// A lost poll reply must never lose entries for good, and the server cannot know whether a reply
// arrived: every `full_every` a connection is answered in full again (the client skips what it
// has). Keyed by the connection's ids and the ledger; the oldest cursors are forgotten beyond
// `capacity` (a forgotten connection just gets a full answer). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ledger_ref.h"

namespace kiln::edge {

class PollCursors {
 public:
  explicit PollCursors(const Clock& clock, size_t capacity = 65536,
                       absl::Duration full_every = absl::Seconds(30))
      : clock_(clock), capacity_(capacity), full_every_(full_every) {}

  // The version this poll may be answered after (GetLedgerRequest.entries_after_version), or 0
  // for a full answer.
  uint64_t After(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = cursors_.find(key);
    if (it == cursors_.end() || clock_.Now() - it->second.last_full >= full_every_) return 0;
    return it->second.version;
  }

  // Records that the poll for `key` was answered up to `version`, in full or not.
  void Served(const std::string& key, uint64_t version, bool full) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = cursors_.try_emplace(key);
    it->second.version = version;
    if (full || inserted) it->second.last_full = full ? clock_.Now() : absl::InfinitePast();
    if (!inserted) return;
    order_.push_back(key);
    while (cursors_.size() > capacity_) {
      cursors_.erase(order_.front());
      order_.pop_front();
    }
  }

  // The key of a connection's poll of a ledger.
  static std::string Key(const std::string& req_id, const std::string& res_id,
                         const LedgerRef& ledger) {
    std::string key;
    for (const std::string* part : {&req_id, &res_id, &ledger.tenant(), &ledger.ledger()}) {
      key += std::to_string(part->size());
      key += ':';
      key += *part;
    }
    return key;
  }

 private:
  struct Cursor {
    uint64_t version = 0;
    absl::Time last_full = absl::InfinitePast();
  };
  const Clock& clock_;
  const size_t capacity_;
  const absl::Duration full_every_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Cursor> cursors_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // keys, oldest first
};

}  // namespace kiln::edge
