// A fixed pool of threads with a bounded queue, for blocking work (storage I/O, calls to other
// services) that must never run on gRPC reactor threads. Submission never blocks: when the queue is
// full the caller gets RESOURCE_EXHAUSTED and answers its client instead of piling up work.
// Thread-safe. The destructor stops accepting work, runs what is already queued, and joins.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace kiln {

class BoundedExecutor {
 public:
  struct Options {
    int threads = 8;           // worker threads; at least 1
    size_t max_queued = 4096;  // tasks waiting for a worker before TrySubmit refuses
  };

  explicit BoundedExecutor(Options options);
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`. Returns RESOURCE_EXHAUSTED when `max_queued` tasks are waiting and UNAVAILABLE
  // after Shutdown(); in both cases `task` is destroyed without running.
  absl::Status TrySubmit(absl::AnyInvocable<void()> task);

  // Stops accepting work, runs everything already queued, joins the workers. Idempotent.
  void Shutdown();

  // Tasks currently waiting (not running).
  size_t queued() const;

 private:
  void WorkerLoop();

  const Options options_;
  mutable absl::Mutex mu_;
  // Wakes one idle worker per task (a Mutex::Await condition would be re-evaluated for every
  // waiting worker on each unlock, which costs O(threads) per task).
  absl::CondVar work_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  absl::Mutex join_mu_;  // serializes Shutdown()
};

}  // namespace kiln
