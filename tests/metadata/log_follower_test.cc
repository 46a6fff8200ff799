// Watch across metadata replicas: two metadata services (each with its own connection pool,
// LedgerStore, WatchHub and LogFollower, as two processes would have) on one PostgreSQL database.
// Commits made through either replica reach watchers on both, every version once and in order,
// with LISTEN/NOTIFY hints and with polling alone.
#include "services/metadata/log_follower.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/metadata_service.h"
#include "services/metadata/pg_notify_hints.h"
#include "tests/metadata/commit_request.h"
#include "tests/metadata/replica.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using kiln::testing::PostgresServer;

using Replica = MetadataReplica;

grpc::Status CommitNext(Replica& r, uint64_t expected, const std::string& cid) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CommitResponse resp;
  return r.stub->Commit(&ctx, CommitAt(expected, cid), &resp);
}

// Reads a Watch stream until `last` and returns the versions seen (the snapshot's first).
std::vector<uint64_t> WatchUntil(grpc::ClientReader<v1::WatchEvent>& reader, uint64_t last,
                                 std::vector<std::string>* cids) {
  std::vector<uint64_t> versions;
  v1::WatchEvent event;
  while (reader.Read(&event)) {
    versions.push_back(event.version());
    if (!event.snapshot()) {
      for (const auto& e : event.entries()) cids->push_back(e.cid());
    }
    if (event.version() >= last) break;
  }
  return versions;
}

// A Watch of ledger t1/l1 on `replica` from after `after_version`, with a 60 s deadline on `ctx`.
std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> WatchLedger(Replica& replica,
                                                                grpc::ClientContext& ctx,
                                                                uint64_t after_version = 0) {
  v1::WatchRequest request;
  request.set_tenant("t1");
  request.set_ledger("l1");
  request.set_after_version(after_version);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return replica.stub->Watch(&ctx, request);
}

// The URL of a fresh database on the shared PostgreSQL server, with `params`.
absl::StatusOr<std::string> FreshDatabaseUrl(const std::string& params) {
  PostgresServer& server = PostgresServer::Shared();
  absl::StatusOr<std::string> db = server.CreateDatabase();
  if (!db.ok()) return db.status();
  return server.Url(*db, params);
}

class CrossReplicaWatchTest : public ::testing::TestWithParam<bool> {};

// Hints on: polling is set far beyond the test's length, so only hints deliver. Hints off: only
// polling (every 20 ms) delivers.
TEST_P(CrossReplicaWatchTest, CommitsThroughEitherReplicaReachWatchersOnBothInOrderOnce) {
  const bool hints = GetParam();
  const absl::StatusOr<std::string> url = FreshDatabaseUrl(hints ? "hints=notify" : "hints=poll");
  ASSERT_TRUE(url.ok()) << url.status();
  const absl::Duration poll = hints ? absl::Hours(1) : absl::Milliseconds(20);
  Replica a(*url, poll);
  Replica b(*url, poll);
  ASSERT_EQ(a.kv->NewCommitHints() != nullptr, hints);

  constexpr uint64_t kCommits = 30;
  grpc::ClientContext on_b_ctx;
  auto on_b = WatchLedger(b, on_b_ctx);
  // The first event is the snapshot at version 0: the stream is live before the commits.
  v1::WatchEvent first;
  ASSERT_TRUE(on_b->Read(&first));
  EXPECT_TRUE(first.snapshot());
  EXPECT_EQ(first.version(), 0u);

  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> on_a;
  grpc::ClientContext on_a_ctx;
  for (uint64_t v = 0; v < kCommits; ++v) {
    // Mostly through A (another replica than the first watcher's), every third through B.
    Replica& via = v % 3 == 2 ? b : a;
    grpc::Status s = CommitNext(via, v, "c" + std::to_string(v + 1));
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (v == 10) {
      // A watcher that resumes on A after version 5 while commits continue.
      on_a = WatchLedger(a, on_a_ctx, /*after_version=*/5);
    }
  }
  std::vector<std::string> cids_b, cids_a;
  std::vector<uint64_t> seen_b = WatchUntil(*on_b, kCommits, &cids_b);
  std::vector<uint64_t> seen_a = WatchUntil(*on_a, kCommits, &cids_a);
  std::vector<uint64_t> want_b, want_a;
  std::vector<std::string> want_cids_b, want_cids_a;
  for (uint64_t v = 1; v <= kCommits; ++v) {
    want_b.push_back(v);
    want_cids_b.push_back("c" + std::to_string(v));
    if (v > 5) {
      want_a.push_back(v);
      want_cids_a.push_back("c" + std::to_string(v));
    }
  }
  EXPECT_EQ(seen_b, want_b);
  EXPECT_EQ(cids_b, want_cids_b);
  EXPECT_EQ(seen_a, want_a);
  EXPECT_EQ(cids_a, want_cids_a);
  on_b_ctx.TryCancel();
  on_a_ctx.TryCancel();
}

INSTANTIATE_TEST_SUITE_P(Hints, CrossReplicaWatchTest, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "ListenNotify" : "PollingOnly");
});

// A ledger deleted through one replica ends the Watch streams on the other too (its follower
// sees the version go back), so edges on any replica tell their clients.
TEST(CrossReplicaDeleteTest, DeletingThroughOneReplicaEndsWatchesOnTheOther) {
  const absl::StatusOr<std::string> url = FreshDatabaseUrl("hints=poll");
  ASSERT_TRUE(url.ok()) << url.status();
  Replica a(*url, absl::Milliseconds(20));
  Replica b(*url, absl::Milliseconds(20));
  ASSERT_TRUE(CommitNext(a, 0, "c1").ok());
  grpc::ClientContext ctx;
  auto on_b = WatchLedger(b, ctx);
  v1::WatchEvent event;
  ASSERT_TRUE(on_b->Read(&event));  // the snapshot at version 1
  EXPECT_EQ(event.version(), 1u);

  grpc::ClientContext del_ctx;
  v1::DeleteLedgerRequest del;
  del.set_tenant("t1");
  del.set_ledger("l1");
  v1::DeleteLedgerResponse deleted;
  ASSERT_TRUE(a.stub->DeleteLedger(&del_ctx, del, &deleted).ok());
  EXPECT_TRUE(deleted.existed());

  EXPECT_FALSE(on_b->Read(&event));
  grpc::Status ended = on_b->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::NOT_FOUND) << ended.error_message();
}

TEST(HintPayloadTest, RoundTripsLedgerNamesWithAnyBytes) {
  std::string payload = EncodeHintLedger({"t:1", "l12:x"}) + EncodeHintLedger({"", "z"});
  auto decoded = DecodeHintPayload(payload);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0], LedgerRef("t:1", "l12:x"));
  EXPECT_EQ(decoded[1], LedgerRef("", "z"));
  EXPECT_TRUE(DecodeHintPayload("99:short").empty());
}

}  // namespace
}  // namespace kiln::metadata
