#include "services/metadata/log_follower.h"

#include <vector>

#include "common/log_limiter.h"
#include "glog/logging.h"

namespace kiln::metadata {

LogFollower::LogFollower(LedgerStore& store, WatchHub& hub, std::unique_ptr<CommitHints> hints,
                         LogFollowerOptions options)
    : store_(store), hub_(hub), options_(options), hints_(std::move(hints)) {
  if (hints_ != nullptr) {
    hints_->Start({.changed = [this](const LedgerRef& ledger) { Hint(ledger); },
                   .maybe_lost =
                       [this] {
                         absl::MutexLock lock(&mu_);
                         for (const auto& [key, unused] : followed_) dirty_.insert(key);
                       }});
  }
  thread_ = std::thread([this] { Run(); });
}

LogFollower::~LogFollower() {
  hints_.reset();  // no more callbacks
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void LogFollower::OnLocalCommit(const LedgerRef& ledger,
                                std::shared_ptr<const v1::WatchEvent> event) {
  if (hints_ != nullptr) hints_->Announce(ledger);
  absl::MutexLock lock(&mu_);
  auto it = followed_.find(ledger);
  if (it == followed_.end()) return;
  if (event->version() == it->second.cursor + 1) {
    it->second.cursor = event->version();
    hub_.Publish(ledger, event);
  } else if (event->version() > it->second.cursor) {
    dirty_.insert(it->first);  // another replica's commits came first: read them
  }
}

void LogFollower::Follow(const LedgerRef& ledger, uint64_t version) {
  absl::MutexLock lock(&mu_);
  auto [it, added] = followed_.try_emplace(ledger);
  if (added) it->second.cursor = version;
  ++it->second.watchers;
  dirty_.insert(ledger);  // commits may have landed since the watcher's read
}

void LogFollower::Unfollow(const LedgerRef& ledger) {
  absl::MutexLock lock(&mu_);
  auto it = followed_.find(ledger);
  if (it == followed_.end()) return;
  if (--it->second.watchers <= 0) {
    dirty_.erase(it->first);
    followed_.erase(it);
  }
}

void LogFollower::Hint(const LedgerRef& ledger) {
  absl::MutexLock lock(&mu_);
  if (followed_.contains(ledger)) dirty_.insert(ledger);
}

bool LogFollower::CatchUp(const LedgerRef& key) {
  for (;;) {
    uint64_t cursor;
    {
      absl::MutexLock lock(&mu_);
      auto it = followed_.find(key);
      if (it == followed_.end()) return true;
      cursor = it->second.cursor;
    }
    auto events = store_.EventsAfter(key, cursor, options_.batch);
    if (!events.ok()) {
      static LogLimiter limiter(5, absl::Seconds(30));
      uint64_t dropped = 0;
      if (limiter.Allow(&dropped)) {
        LOG(WARNING) << "watch follower cannot read the log (retrying): " << events.status() << " ("
                     << dropped << " more)";
      }
      return false;
    }
    {
      absl::MutexLock lock(&mu_);
      auto it = followed_.find(key);
      if (it == followed_.end()) return true;
      for (auto& e : *events) {
        if (e.version() <= it->second.cursor) continue;   // published meanwhile
        if (e.version() != it->second.cursor + 1) break;  // cannot happen: the log is contiguous
        it->second.cursor = e.version();
        hub_.Publish(key, std::make_shared<const v1::WatchEvent>(std::move(e)));
      }
    }
    if (events->size() < options_.batch) return true;
  }
}

void LogFollower::Poll() {
  std::vector<LedgerRef> keys;
  std::vector<uint64_t> cursors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, f] : followed_) {
      keys.push_back(key);
      cursors.push_back(f.cursor);
    }
  }
  if (keys.empty()) return;
  // One read of every followed ledger's version; only those that moved are read further.
  absl::StatusOr<std::vector<uint64_t>> versions = store_.Versions(keys);
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (versions.ok() && (*versions)[i] < cursors[i]) {
      // Versions never go back: the ledger was deleted (on any replica). Its watchers here end
      // with NOT_FOUND, as on the replica that deleted it; the cursor restarts from now.
      auto it = followed_.find(keys[i]);
      if (it == followed_.end() || it->second.cursor != cursors[i]) continue;
      it->second.cursor = (*versions)[i];
      auto deleted = std::make_shared<v1::WatchEvent>();
      deleted->set_deleted(true);
      hub_.Publish(keys[i], deleted);
      continue;
    }
    if (!versions.ok() || (*versions)[i] > cursors[i]) dirty_.insert(keys[i]);
  }
}

void LogFollower::Run() {
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  for (;;) {
    bool poll = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !dirty_.empty(); };
      mu_.AwaitWithDeadline(absl::Condition(&ready), next_poll);
      if (stop_) return;
      poll = absl::Now() >= next_poll;
    }
    if (poll) {
      next_poll = absl::Now() + options_.poll_interval;
      Poll();
    }
    std::vector<LedgerRef> work;
    {
      absl::MutexLock lock(&mu_);
      work.assign(dirty_.begin(), dirty_.end());
      dirty_.clear();
    }
    for (size_t i = 0; i < work.size(); ++i) {
      if (!CatchUp(work[i])) {
        // Storage is failing: leave the rest dirty for the next round after the poll interval.
        absl::MutexLock lock(&mu_);
        for (size_t j = i; j < work.size(); ++j) dirty_.insert(work[j]);
        mu_.AwaitWithDeadline(absl::Condition(&stop_), next_poll);
        break;
      }
    }
  }
}

}  // namespace kiln::metadata
