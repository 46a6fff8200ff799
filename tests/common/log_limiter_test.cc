// LogLimiter: a burst per window, the refused lines counted and reported with the next allowed one.
#include "common/log_limiter.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(LogLimiterTest, AllowsABurstThenCountsWhatItRefuses) {
  LogLimiter limiter(3, absl::Hours(1));
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(&suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.Allow(&suppressed));
}

TEST(LogLimiterTest, ANewWindowAllowsAgainAndReportsTheRefusals) {
  LogLimiter limiter(1, absl::Seconds(1));
  uint64_t suppressed = 0;
  ASSERT_TRUE(limiter.Allow(&suppressed));
  EXPECT_FALSE(limiter.Allow(&suppressed));
  EXPECT_FALSE(limiter.Allow(&suppressed));
  absl::SleepFor(absl::Milliseconds(1100));
  ASSERT_TRUE(limiter.Allow(&suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace kiln
