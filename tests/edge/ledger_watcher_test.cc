// The gRPC LedgerWatcher against a scripted metadata Watch on a loopback gRPC server, with restarts
// scheduled on a fake clock: the backoff doubles to its cap while streams end empty, starts over
// after an event, resumes after the last version delivered, and a permanent error or Cancel ends
// the watch.
#include "services/edge/ledger_watcher.h"

#include <deque>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "tests/support/fake_clock.h"

namespace kiln::edge {
namespace {

namespace mv1 = ::kiln::metadata::v1;
using ::testing::ElementsAre;

// What one Watch call sends: `events`, then `end`; or, with `hang`, stays open until cancelled.
struct ScriptedStream {
  std::vector<uint64_t> versions;  // one event each; the first of a stream is a snapshot
  grpc::Status end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "metadata restarting");
  bool hang = false;
};

class ScriptedMetadata : public mv1::MetadataService::CallbackService {
 public:
  void Script(std::vector<ScriptedStream> streams) {
    absl::MutexLock lock(&mu_);
    for (auto& s : streams) script_.push_back(std::move(s));
  }
  // The after_version of every Watch call so far.
  std::vector<uint64_t> after_versions() {
    absl::MutexLock lock(&mu_);
    return after_;
  }
  void AwaitCalls(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return after_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }

  grpc::ServerWriteReactor<mv1::WatchEvent>* Watch(grpc::CallbackServerContext*,
                                                   const mv1::WatchRequest* request) override {
    ScriptedStream stream;
    stream.hang = true;  // past the script: stay open
    {
      absl::MutexLock lock(&mu_);
      after_.push_back(request->after_version());
      if (!script_.empty()) {
        stream = std::move(script_.front());
        script_.pop_front();
      }
    }
    return new Writer(std::move(stream));
  }

 private:
  class Writer : public grpc::ServerWriteReactor<mv1::WatchEvent> {
   public:
    explicit Writer(ScriptedStream stream) : stream_(std::move(stream)) { Next(); }
    void OnWriteDone(bool ok) override {
      if (!ok) return Finish(grpc::Status::CANCELLED);
      Next();
    }
    void OnCancel() override {
      absl::MutexLock lock(&mu_);
      if (stream_.hang && !finished_) {
        finished_ = true;
        Finish(grpc::Status::CANCELLED);
      }
    }
    void OnDone() override { delete this; }

   private:
    void Next() {
      if (next_ < stream_.versions.size()) {
        event_.Clear();
        event_.set_version(stream_.versions[next_]);
        event_.set_snapshot(next_ == 0);
        ++next_;
        return StartWrite(&event_);
      }
      if (stream_.hang) return;
      absl::MutexLock lock(&mu_);
      finished_ = true;
      Finish(stream_.end);
    }
    ScriptedStream stream_;
    size_t next_ = 0;
    mv1::WatchEvent event_;
    absl::Mutex mu_;
    bool finished_ = false;
  };

  absl::Mutex mu_;
  std::deque<ScriptedStream> script_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> after_ ABSL_GUARDED_BY(mu_);
};

class LedgerWatcherTest : public ::testing::Test {
 protected:
  LedgerWatcherTest() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&metadata_);
    server_ = builder.BuildAndStart();
    channels_ = std::make_unique<ShardedChannels>(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    watcher_ = NewGrpcLedgerWatcher(*channels_, clock_,
                                    WatchBackoff{absl::Milliseconds(100), absl::Milliseconds(300)});
  }
  ~LedgerWatcherTest() override { server_->Shutdown(); }

  std::shared_ptr<LedgerWatch> Watch() {
    LedgerWatcher::Handlers handlers;
    handlers.on_event = [this](const mv1::WatchEvent& e) {
      absl::MutexLock lock(&mu_);
      versions_.push_back(e.version());
    };
    handlers.on_end = [this](const absl::Status& s) {
      end_status_ = s;
      ended_.Notify();
    };
    return watcher_->Watch({"t", "l"}, std::move(handlers));
  }

  std::vector<uint64_t> versions() {
    absl::MutexLock lock(&mu_);
    return versions_;
  }

  FakeClock clock_;
  ScriptedMetadata metadata_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ShardedChannels> channels_;
  std::unique_ptr<LedgerWatcher> watcher_;
  absl::Mutex mu_;
  std::vector<uint64_t> versions_ ABSL_GUARDED_BY(mu_);
  absl::Notification ended_;
  absl::Status end_status_;
};

TEST_F(LedgerWatcherTest, BackoffDoublesToItsCapStartsOverAfterAnEventAndResumes) {
  ScriptedStream empty;
  ScriptedStream with_event;
  with_event.versions = {5};
  ScriptedStream permanent;
  permanent.end = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "wrong shard");
  metadata_.Script({empty, empty, with_event, empty, permanent});
  auto watch = Watch();
  clock_.AwaitScheduled(1);
  clock_.Advance(absl::Milliseconds(200));
  clock_.AwaitScheduled(2);
  clock_.Advance(absl::Milliseconds(300));
  clock_.AwaitScheduled(3);
  clock_.Advance(absl::Milliseconds(100));
  clock_.AwaitScheduled(4);
  clock_.Advance(absl::Milliseconds(200));
  ended_.WaitForNotification();
  EXPECT_THAT(clock_.delays(), ElementsAre(absl::Milliseconds(200), absl::Milliseconds(300),
                                           absl::Milliseconds(100), absl::Milliseconds(200)));
  EXPECT_THAT(metadata_.after_versions(), ElementsAre(0, 0, 0, 5, 5));
  EXPECT_THAT(versions(), ElementsAre(5));
  EXPECT_EQ(end_status_.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LedgerWatcherTest, PermanentErrorEndsTheWatchWithoutARestart) {
  ScriptedStream invalid;
  invalid.end = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad ledger id");
  metadata_.Script({invalid});
  auto watch = Watch();
  ended_.WaitForNotification();
  EXPECT_EQ(end_status_.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(clock_.delays().empty());
  EXPECT_EQ(metadata_.after_versions().size(), 1u);
}

TEST_F(LedgerWatcherTest, CancelDuringBackoffEndsTheWatchAtOnce) {
  metadata_.Script({ScriptedStream{}});
  auto watch = Watch();
  clock_.AwaitScheduled(1);
  watch->Cancel();
  ASSERT_TRUE(ended_.HasBeenNotified());
  EXPECT_EQ(end_status_.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(clock_.pending(), 0u);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(metadata_.after_versions().size(), 1u);  // no restart
}

TEST_F(LedgerWatcherTest, CancelOfAnOpenStreamEndsTheWatch) {
  auto watch = Watch();  // nothing scripted: the stream stays open
  metadata_.AwaitCalls(1);
  watch->Cancel();
  ended_.WaitForNotification();
  EXPECT_EQ(end_status_.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(clock_.delays().empty());
}

}  // namespace
}  // namespace kiln::edge
