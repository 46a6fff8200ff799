// LedgerFollowers over a fake watcher (no metadata): pushes reach bound connections once, a
// permanent watch error ends the follow, and the last Unfollow cancels the watch.
#include "services/edge/followers.h"

#include <memory>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/edge/fake_ledger_watcher.h"
#include "tests/support/fake_clock.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;

class RecordingSession : public ClientSession {
 public:
  void Push(std::string json, std::chrono::steady_clock::time_point) override {
    pushed.push_back(std::move(json));
  }
  std::vector<std::string> pushed;
};

metadata::v1::WatchEvent Event(uint64_t version, bool snapshot = false) {
  metadata::v1::WatchEvent e;
  e.set_version(version);
  e.set_snapshot(snapshot);
  e.add_keys("zKey" + std::to_string(version));
  return e;
}

class FollowersTest : public ::testing::Test {
 protected:
  Message Bind() {
    auto m = DecodeMessage(boost::json::parse(R"({"tid":"b1","type":"bindGetMeta",
        "version":"FP-MSG-1.0","tenant":{"tenant":"t1","ledger":"l1"}})")
                               .as_object());
    EXPECT_TRUE(m.ok()) << m.status();
    return *m;
  }

  void Follow(const std::shared_ptr<RecordingSession>& s) {
    followers_.Follow(LedgerRef("t1", "l1"), s, Bind(), absl::InfiniteFuture());
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  testing::FakeLedgerWatcher watcher_;
  LedgerFollowers followers_{watcher_, clock_, registry_};
};

TEST_F(FollowersTest, OneWatchPerLedgerPushesEachNewVersionOnce) {
  auto a = std::make_shared<RecordingSession>();
  auto b = std::make_shared<RecordingSession>();
  Follow(a);
  Follow(b);
  ASSERT_EQ(watcher_.watches().size(), 1u);
  auto watch = watcher_.watches()[0];
  EXPECT_EQ(watch->tenant, "t1");
  EXPECT_EQ(watch->ledger, "l1");
  watch->Deliver(Event(3));
  watch->Deliver(Event(3));  // a resumed stream repeating a version: not pushed again
  watch->Deliver(Event(2));
  ASSERT_EQ(a->pushed.size(), 1u);
  ASSERT_EQ(b->pushed.size(), 1u);
  EXPECT_THAT(a->pushed[0], HasSubstr("\"type\":\"eventGetMeta\""));
  EXPECT_THAT(a->pushed[0], HasSubstr("zKey3"));
}

TEST_F(FollowersTest, PermanentWatchErrorEndsTheFollowAndALaterBindStartsAfresh) {
  auto a = std::make_shared<RecordingSession>();
  Follow(a);
  EXPECT_EQ(followers_.followed_ledgers(), 1u);
  watcher_.watches()[0]->End(absl::FailedPreconditionError("ledger is on another shard"));
  EXPECT_EQ(followers_.followed_ledgers(), 0u);
  Follow(a);
  EXPECT_EQ(followers_.followed_ledgers(), 1u);
  ASSERT_EQ(watcher_.watches().size(), 2u);
  watcher_.watches()[1]->Deliver(Event(1));
  EXPECT_EQ(a->pushed.size(), 1u);
}

TEST_F(FollowersTest, LastUnfollowCancelsTheWatch) {
  auto a = std::make_shared<RecordingSession>();
  auto b = std::make_shared<RecordingSession>();
  Follow(a);
  Follow(b);
  auto watch = watcher_.watches()[0];
  followers_.Unfollow(a.get());
  EXPECT_FALSE(watch->ended());
  followers_.Unfollow(b.get());
  EXPECT_TRUE(watch->ended());
  EXPECT_EQ(followers_.followed_ledgers(), 0u);
}

TEST_F(FollowersTest, ExpiredTokenWithholdsPushesUntilRenewed) {
  auto a = std::make_shared<RecordingSession>();
  followers_.Follow(LedgerRef("t1", "l1"), a, Bind(), clock_.Now() + absl::Minutes(1));
  clock_.Advance(absl::Minutes(2));
  watcher_.watches()[0]->Deliver(Event(1));
  EXPECT_TRUE(a->pushed.empty());
  auto bind = followers_.Renew(LedgerRef("t1", "l1"), a.get(), clock_.Now() + absl::Hours(1));
  ASSERT_TRUE(bind.has_value());
  EXPECT_EQ(bind->tid, "b1");
  watcher_.watches()[0]->Deliver(Event(2));
  EXPECT_EQ(a->pushed.size(), 1u);
}

}  // namespace
}  // namespace kiln::edge
