// A LedgerWatcher for tests (services/edge/ledger_watcher.h): no metadata behind it; the test
// delivers events and ends watches itself. Thread-safe; handlers run on the calling thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/edge/ledger_watcher.h"

namespace kiln::edge::testing {

class FakeLedgerWatcher : public LedgerWatcher {
 public:
  class Watch : public LedgerWatch {
   public:
    Watch(const LedgerRef& ref, Handlers handlers)
        : tenant(ref.tenant()), ledger(ref.ledger()), handlers_(std::move(handlers)) {}
    const std::string tenant;
    const std::string ledger;

    // Delivers `event` unless the watch has ended.
    void Deliver(const metadata::v1::WatchEvent& event) {
      std::function<void(const metadata::v1::WatchEvent&)> on_event;
      {
        absl::MutexLock lock(&mu_);
        if (ended_) return;
        on_event = handlers_.on_event;
      }
      on_event(event);
    }
    // Ends the watch with `status` (once).
    void End(const absl::Status& status) {
      Handlers handlers;
      {
        absl::MutexLock lock(&mu_);
        if (ended_) return;
        ended_ = true;
        handlers = std::move(handlers_);
      }
      handlers.on_end(status);
    }
    void Cancel() override { End(absl::CancelledError("watch cancelled")); }
    bool ended() const {
      absl::MutexLock lock(&mu_);
      return ended_;
    }

   private:
    mutable absl::Mutex mu_;
    bool ended_ ABSL_GUARDED_BY(mu_) = false;
    Handlers handlers_ ABSL_GUARDED_BY(mu_);
  };

  std::shared_ptr<LedgerWatch> Watch(const LedgerRef& ledger, Handlers handlers) override {
    auto watch = std::make_shared<class Watch>(ledger, std::move(handlers));
    absl::MutexLock lock(&mu_);
    watches_.push_back(watch);
    return watch;
  }

  // Every watch started, in order.
  std::vector<std::shared_ptr<class Watch>> watches() const {
    absl::MutexLock lock(&mu_);
    return watches_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<class Watch>> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::edge::testing
