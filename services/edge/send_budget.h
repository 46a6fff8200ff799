// Memory for outgoing WebSocket messages, bounded per connection and across the edge. A client
// that stops reading makes its queue grow; past its own limit it is cut off, and when all queues
// together pass the edge's limit the connection holding the most queued bytes (the slowest
// reader) is cut off first, whoever's message tipped the total over.
//
// Threading: thread-safe. Connections report their queue sizes from their own strands; CutOff is
// called on the reporting thread and must only post work to the victim's strand.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace kiln::edge {

// A connection whose outgoing queue the budget tracks.
class QueueOwner {
 public:
  virtual ~QueueOwner() = default;
  // Closes the connection and drops its queue (asynchronously; must not block). The owner then
  // calls SendBudget::Remove.
  virtual void CutOff() = 0;
};

class SendBudget {
 public:
  // What Add decided.
  enum class Verdict {
    kOk,
    kCutOffCaller,  // the caller's queue is over its limit, or the largest when the edge's
                    // total is: the caller must close its connection now
    kCutOffOther,   // the edge's total was over its limit: another, larger queue was cut off
  };

  SendBudget(uint64_t per_connection_bytes, uint64_t total_bytes)
      : per_connection_bytes_(per_connection_bytes), total_bytes_(total_bytes) {}

  // `owner` queued `bytes` more. Over the edge's total, the owner with the most queued bytes is
  // cut off: CutOff is called on it, unless it is `owner` (then the verdict says so).
  Verdict Add(const std::shared_ptr<QueueOwner>& owner, uint64_t bytes);
  // `owner` sent (or dropped) `bytes` of its queue.
  void Release(QueueOwner* owner, uint64_t bytes);
  // `owner` is gone; its remaining bytes no longer count.
  void Remove(QueueOwner* owner);

  uint64_t total() const;
  uint64_t queued(QueueOwner* owner) const;

 private:
  struct Entry {
    std::weak_ptr<QueueOwner> owner;
    uint64_t bytes = 0;
  };

  const uint64_t per_connection_bytes_;
  const uint64_t total_bytes_;
  mutable absl::Mutex mu_;
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<QueueOwner*, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::edge
