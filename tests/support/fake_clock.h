// A clock that moves only when told to, and runs the calls scheduled on it (common/clock.h) when
// it is moved past their time: tests advance time instead of sleeping. Thread-safe; scheduled
// calls run on the thread that calls Advance (or Cancel), with no lock held.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace kiln {

class FakeClock : public Clock, public Scheduler {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Moves time forward by `d`, then makes the calls that have come due, earliest first (calls
  // they schedule within the new time run too).
  void Advance(absl::Duration d) {
    absl::Time until;
    {
      absl::MutexLock lock(&mu_);
      now_ += d;
      until = now_;
    }
    while (std::function<void(bool)> fn = TakeDue(until)) fn(true);
  }

  std::unique_ptr<ScheduledCall> RunAfter(absl::Duration delay,
                                          std::function<void(bool fired)> fn) override {
    absl::MutexLock lock(&mu_);
    uint64_t id = next_id_++;
    delays_.push_back(delay);
    calls_.emplace(id, Call{now_ + delay, std::move(fn)});
    return std::make_unique<Handle>(this, id);
  }

  // Every delay asked of RunAfter, in order.
  std::vector<absl::Duration> delays() const {
    absl::MutexLock lock(&mu_);
    return delays_;
  }
  // Calls scheduled and not yet made.
  size_t pending() const {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }
  // Blocks until at least `n` calls have been scheduled in all (for code that schedules from
  // other threads).
  void AwaitScheduled(size_t n) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return delays_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }

 private:
  struct Call {
    absl::Time due;
    std::function<void(bool)> fn;
  };
  class Handle : public ScheduledCall {
   public:
    Handle(FakeClock* clock, uint64_t id) : clock_(clock), id_(id) {}
    ~Handle() override { Cancel(); }
    void Cancel() override {
      std::function<void(bool)> fn;
      {
        absl::MutexLock lock(&clock_->mu_);
        auto it = clock_->calls_.find(id_);
        if (it == clock_->calls_.end()) return;
        fn = std::move(it->second.fn);
        clock_->calls_.erase(it);
      }
      fn(false);
    }

   private:
    FakeClock* clock_;
    uint64_t id_;
  };

  // Removes and returns the earliest call due by `until`, or an empty function.
  std::function<void(bool)> TakeDue(absl::Time until) {
    absl::MutexLock lock(&mu_);
    auto best = calls_.end();
    for (auto it = calls_.begin(); it != calls_.end(); ++it) {
      if (it->second.due <= until && (best == calls_.end() || it->second.due < best->second.due)) {
        best = it;
      }
    }
    if (best == calls_.end()) return nullptr;
    std::function<void(bool)> fn = std::move(best->second.fn);
    calls_.erase(best);
    return fn;
  }

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Call> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> delays_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln
