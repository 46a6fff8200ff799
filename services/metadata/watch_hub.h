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

  void Subscribe(const LedgerRef& ledger, Subscriber* subscriber);
  void Unsubscribe(const LedgerRef& ledger, Subscriber* subscriber);
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
