// Injected time source and timers, so tests control time instead of sleeping (the fakes are in
// tests/support/fake_clock.h). Thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kiln {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system's wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static Clock& Get() {
    static RealClock clock;
    return clock;
  }
};

// A call that a Scheduler will make later.
class ScheduledCall {
 public:
  // Destroying the handle cancels the call if it has not been made (it may be destroyed from
  // within the call itself).
  virtual ~ScheduledCall() = default;
  // Makes the call now with fired=false unless it has been made already. May run it on the
  // calling thread: hold no lock the call takes.
  virtual void Cancel() = 0;
};

// Runs calls after a delay on a clock's time (the fake in tests/support/fake_clock.h runs them
// when the test advances it). Thread-safe.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Calls `fn(true)` once `delay` has passed, or `fn(false)` when cancelled first: exactly once,
  // never on the calling thread of RunAfter itself.
  virtual std::unique_ptr<ScheduledCall> RunAfter(absl::Duration delay,
                                                  std::function<void(bool fired)> fn) = 0;
};

}  // namespace kiln
