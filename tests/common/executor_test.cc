#include "common/executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(BoundedExecutorTest, RunsEverySubmittedTaskBeforeShutdownReturns) {
  std::atomic<int> ran{0};
  {
    BoundedExecutor executor({.threads = 3, .max_queued = 1000});
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(executor.TrySubmit([&] { ran.fetch_add(1); }).ok());
    }
  }  // destructor drains
  EXPECT_EQ(ran.load(), 500);
}

TEST(BoundedExecutorTest, FullQueueIsResourceExhaustedAndTaskIsNotRun) {
  BoundedExecutor executor({.threads = 1, .max_queued = 2});
  absl::Notification started, release;
  ASSERT_TRUE(executor
                  .TrySubmit([&] {
                    started.Notify();
                    release.WaitForNotification();
                  })
                  .ok());
  started.WaitForNotification();  // the worker is busy; the queue is empty
  std::atomic<int> ran{0};
  EXPECT_TRUE(executor.TrySubmit([&] { ran++; }).ok());
  EXPECT_TRUE(executor.TrySubmit([&] { ran++; }).ok());
  EXPECT_EQ(executor.queued(), 2u);
  absl::Status refused = executor.TrySubmit([&] { ran += 100; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 2);
}

TEST(BoundedExecutorTest, SubmitAfterShutdownIsUnavailable) {
  BoundedExecutor executor({.threads = 1, .max_queued = 2});
  executor.Shutdown();
  EXPECT_EQ(executor.TrySubmit([] {}).code(), absl::StatusCode::kUnavailable);
  executor.Shutdown();  // idempotent
}

}  // namespace
}  // namespace kiln
