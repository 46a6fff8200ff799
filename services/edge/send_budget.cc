#include "services/edge/send_budget.h"

#include <algorithm>
#include <utility>

namespace kiln::edge {

SendBudget::Verdict SendBudget::Add(const std::shared_ptr<QueueOwner>& owner, uint64_t bytes) {
  std::shared_ptr<QueueOwner> victim;
  {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[owner.get()];
    if (e.owner.expired()) e.owner = owner;
    e.bytes += bytes;
    total_ += bytes;
    if (e.bytes > per_connection_bytes_) return Verdict::kCutOffCaller;
    if (total_ <= total_bytes_) return Verdict::kOk;
    // The slowest reader is the one holding the most; it goes first.
    auto largest = std::max_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.bytes < b.second.bytes; });
    if (largest->first == owner.get()) return Verdict::kCutOffCaller;
    victim = largest->second.owner.lock();
    // Its bytes stop counting now, so one burst cuts off one connection, not every sender.
    total_ -= largest->second.bytes;
    largest->second.bytes = 0;
  }
  if (victim != nullptr) victim->CutOff();
  return Verdict::kCutOffOther;
}

void SendBudget::Release(QueueOwner* owner, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(owner);
  if (it == entries_.end()) return;
  uint64_t n = std::min(bytes, it->second.bytes);
  it->second.bytes -= n;
  total_ -= n;
}

void SendBudget::Remove(QueueOwner* owner) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(owner);
  if (it == entries_.end()) return;
  total_ -= it->second.bytes;
  entries_.erase(it);
}

uint64_t SendBudget::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

uint64_t SendBudget::queued(QueueOwner* owner) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(owner);
  return it == entries_.end() ? 0 : it->second.bytes;
}

}  // namespace kiln::edge
