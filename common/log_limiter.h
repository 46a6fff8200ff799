// A budget for log lines: at most `burst` lines per `window`; the rest are counted and reported
// with the next line allowed, so a flood of failing requests cannot flood the log.
//
//   static LogLimiter limiter(20, absl::Seconds(10));
//   if (uint64_t dropped; limiter.Allow(&dropped)) LOG(WARNING) << ... << " (" << dropped << "
//   more)";
//
// Thread-safe.
#pragma once

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kiln {

class LogLimiter {
 public:
  LogLimiter(uint64_t burst, absl::Duration window) : burst_(burst), window_(window) {}

  // True when a line may be logged now; `*suppressed` is then the number of lines refused since the
  // last allowed one.
  bool Allow(uint64_t* suppressed) {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    if (now - window_start_ >= window_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= burst_) {
      ++suppressed_;
      return false;
    }
    ++used_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  const uint64_t burst_;
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln
