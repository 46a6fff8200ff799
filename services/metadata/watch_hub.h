// Fan-out of committed changes to the Watch streams of each ledger, in commit order.
//
// Threading: thread-safe. Publish calls Deliver on every subscriber of the ledger while holding
// the hub's lock, so a subscriber is never deleted while being delivered to (Unsubscribe waits for
// the lock). Deliver must therefore be quick and must not call back into the hub.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/ledger_ref.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::metadata {

class WatchHub {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Receives one committed change; must not block or call into the hub.
    virtual void Deliver(const std::shared_ptr<const v1::WatchEvent>& event) = 0;
  };

  // None of these can fail, so none returns a status: the hub only keeps pointers in memory.

  // Adds `subscriber` to `ledger`'s fan-out (adding it twice keeps it once). Not owned: it must
  // stay alive until Unsubscribe returns.
  void Subscribe(const LedgerRef& ledger, Subscriber* subscriber);
  // Removes `subscriber` from `ledger`'s fan-out; a subscriber not there is ignored. Once this
  // returns, no Deliver to it is running or will start.
  void Unsubscribe(const LedgerRef& ledger, Subscriber* subscriber);
  // Calls Deliver(event) on every subscriber of `ledger`, in this thread, before returning; a
  // ledger with no subscriber drops the event.
  void Publish(const LedgerRef& ledger, const std::shared_ptr<const v1::WatchEvent>& event);
  // Current number of subscribers over all ledgers.
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<LedgerRef, absl::flat_hash_set<Subscriber*>> subscribers_
      ABSL_GUARDED_BY(mu_);
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln::metadata
