#include "services/metadata/watch_hub.h"

namespace kiln::metadata {

void WatchHub::Subscribe(const LedgerRef& ledger, Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  if (subscribers_[ledger].insert(subscriber).second) ++count_;
}

void WatchHub::Unsubscribe(const LedgerRef& ledger, Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(ledger);
  if (it == subscribers_.end()) return;
  if (it->second.erase(subscriber) > 0) --count_;
  if (it->second.empty()) subscribers_.erase(it);
}

void WatchHub::Publish(const LedgerRef& ledger,
                       const std::shared_ptr<const v1::WatchEvent>& event) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(ledger);
  if (it == subscribers_.end()) return;
  for (Subscriber* s : it->second) s->Deliver(event);
}

size_t WatchHub::size() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

}  // namespace kiln::metadata
