#include "services/edge/ledger_watcher.h"

#include <algorithm>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "glog/logging.h"
#include "grpcpp/alarm.h"
#include "grpcpp/client_context.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::edge {
namespace {

namespace mv1 = ::kiln::metadata::v1;

bool IsPermanent(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:  // the ledger was deleted (kiln-control)
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// ----- gRPC alarms as a Scheduler ------------------------------------------------------------

class AlarmCall : public ScheduledCall {
 public:
  AlarmCall(absl::Duration delay, std::function<void(bool)> fn) {
    alarm_.Set(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(delay), std::move(fn));
  }
  void Cancel() override { alarm_.Cancel(); }

 private:
  grpc::Alarm alarm_;
};

class AlarmScheduler : public Scheduler {
 public:
  std::unique_ptr<ScheduledCall> RunAfter(absl::Duration delay,
                                          std::function<void(bool)> fn) override {
    return std::make_unique<AlarmCall>(delay, std::move(fn));
  }
};

// ----- one watched ledger --------------------------------------------------------------------

class GrpcWatch : public LedgerWatch, public std::enable_shared_from_this<GrpcWatch> {
 public:
  GrpcWatch(mv1::MetadataService::Stub& stub, Scheduler& scheduler, WatchBackoff backoff,
            LedgerRef ledger, LedgerWatcher::Handlers handlers)
      : stub_(stub),
        scheduler_(scheduler),
        limits_(backoff),
        ledger_(std::move(ledger)),
        handlers_(std::move(handlers)),
        backoff_(backoff.first) {}

  // Opens the first stream.
  void Start() { new Stream(shared_from_this(), 0); }

  void Cancel() override {
    grpc::ClientContext* context = nullptr;
    std::unique_ptr<ScheduledCall> restart;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      context = context_;
      restart = std::move(restart_);
      if (context != nullptr) context->TryCancel();  // OnDone runs later, on a gRPC thread
    }
    if (restart != nullptr) restart->Cancel();  // its call ends the watch
  }

 private:
  // One Watch call. Deletes itself when done.
  class Stream : public grpc::ClientReadReactor<mv1::WatchEvent> {
   public:
    Stream(std::shared_ptr<GrpcWatch> watch, uint64_t after) : watch_(std::move(watch)) {
      request_.set_tenant(watch_->ledger_.tenant());
      request_.set_ledger(watch_->ledger_.ledger());
      request_.set_after_version(after);
      context_.set_wait_for_ready(true);  // wait out a metadata restart instead of failing fast
      {
        absl::MutexLock lock(&watch_->mu_);
        watch_->context_ = &context_;
        if (watch_->cancelled_) context_.TryCancel();
      }
      watch_->stub_.async()->Watch(&context_, &request_, this);
      StartRead(&event_);
      StartCall();
    }

    void OnReadDone(bool ok) override {
      if (!ok) return;  // OnDone follows
      got_event_ = true;
      {
        absl::MutexLock lock(&watch_->mu_);
        watch_->last_version_ = std::max(watch_->last_version_, event_.version());
      }
      watch_->handlers_.on_event(event_);
      StartRead(&event_);
    }

    void OnDone(const grpc::Status& status) override {
      std::shared_ptr<GrpcWatch> watch = std::move(watch_);
      absl::Status ended = FromGrpcStatus(status);
      bool got_event = got_event_;
      {
        absl::MutexLock lock(&watch->mu_);
        watch->context_ = nullptr;
      }
      delete this;
      watch->StreamEnded(ended, got_event);
    }

   private:
    std::shared_ptr<GrpcWatch> watch_;
    bool got_event_ = false;
    grpc::ClientContext context_;
    mv1::WatchRequest request_;
    mv1::WatchEvent event_;
  };

  // A stream ended: restart it after the backoff, or end the watch.
  void StreamEnded(const absl::Status& status, bool got_event) {
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_ && !IsPermanent(status.code())) {
        backoff_ = got_event ? limits_.first : std::min(2 * backoff_, limits_.max);
        LOG(WARNING) << "watch of a ledger ended (" << status.message() << "); resuming after "
                     << "version " << last_version_ << " in " << backoff_;
        // The call takes mu_, so it cannot run before restart_ is set.
        restart_ = scheduler_.RunAfter(
            backoff_, [self = shared_from_this()](bool fired) { self->Restart(fired); });
        return;
      }
    }
    End(cancelled() ? absl::CancelledError("watch cancelled") : status);
  }

  void Restart(bool fired) {
    uint64_t after = 0;
    std::unique_ptr<ScheduledCall> made;  // this call: dropped here, which breaks the cycle
    {                                     // (the pending call holds the watch)
      absl::MutexLock lock(&mu_);
      made = std::move(restart_);
      if (fired && !cancelled_) {
        after = last_version_;
      } else {
        fired = false;
      }
    }
    if (!fired) return End(absl::CancelledError("watch cancelled"));
    new Stream(shared_from_this(), after);
  }

  bool cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // Runs on_end once and drops the handlers (which may hold the watch's owner).
  void End(const absl::Status& status) {
    LedgerWatcher::Handlers handlers;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      ended_ = true;
      handlers = std::move(handlers_);
    }
    handlers.on_end(status);
  }

  mv1::MetadataService::Stub& stub_;
  Scheduler& scheduler_;
  const WatchBackoff limits_;
  const LedgerRef ledger_;
  // Set at construction, moved out by End; Stream reads it only while no End can run (between
  // StartCall and OnDone).
  LedgerWatcher::Handlers handlers_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<ScheduledCall> restart_ ABSL_GUARDED_BY(mu_);
};

class GrpcLedgerWatcher : public LedgerWatcher {
 public:
  GrpcLedgerWatcher(const ShardedChannels& metadata, Scheduler& scheduler, WatchBackoff backoff)
      : stubs_(metadata), scheduler_(scheduler), backoff_(backoff) {}

  std::shared_ptr<LedgerWatch> Watch(const LedgerRef& ledger, Handlers handlers) override {
    auto watch = std::make_shared<GrpcWatch>(*stubs_.For(ledger), scheduler_, backoff_, ledger,
                                             std::move(handlers));
    watch->Start();
    return watch;
  }

 private:
  ShardedStubs<mv1::MetadataService> stubs_;
  Scheduler& scheduler_;
  const WatchBackoff backoff_;
};

}  // namespace

std::unique_ptr<LedgerWatcher> NewGrpcLedgerWatcher(const ShardedChannels& metadata,
                                                    Scheduler& scheduler, WatchBackoff backoff) {
  return std::make_unique<GrpcLedgerWatcher>(metadata, scheduler, backoff);
}

Scheduler& GrpcAlarmScheduler() {
  static AlarmScheduler* scheduler = new AlarmScheduler();
  return *scheduler;
}

}  // namespace kiln::edge
