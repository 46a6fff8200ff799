// The Committer against fake peers (tests/merge/fake_peers.h): the compare-and-set retry and its
// give-up after max_commit_attempts, missing CARs, peer failures and per-ledger batching.
#include "services/merge/committer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/merge/fake_peers.h"

namespace kiln::merge {
namespace {

using ::testing::ElementsAre;
using testing::FakeBlockStore;
using testing::FakeMetadata;
using ::testing::HasSubstr;

// A put of entries (cid -> parents) naming `cars`, and a slot for its answer.
struct TestPut {
  v1::PutMetaRequest request;
  ValidatedPut validated;
  std::optional<absl::StatusOr<Committed>> result;
};

std::unique_ptr<TestPut> MakePut(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& entries,
    const std::vector<std::string>& cars, const std::string& ledger = "l") {
  auto put = std::make_unique<TestPut>();
  put->request.set_tenant("t");
  put->request.set_ledger(ledger);
  put->request.set_writer("w");
  for (size_t i = 0; i < entries.size(); ++i) {
    auto* e = put->request.add_entries();
    e->set_cid(entries[i].first);
    for (const auto& p : entries[i].second) e->add_parents(p);
    put->validated.entries.push_back(ValidatedPut::Entry{
        static_cast<int>(i), NewEntry{entries[i].first, entries[i].second}, cars});
  }
  put->validated.request = &put->request;
  return put;
}

class CommitterTest : public ::testing::Test {
 protected:
  explicit CommitterTest(int max_attempts = 3)
      : committer_(CommitterOptions{max_attempts, 64}, blockstore_, metadata_, registry_) {}

  void Submit(TestPut& put) {
    committer_.Submit(put.validated,
                      [&put](absl::StatusOr<Committed> r) { put.result = std::move(r); });
  }

  double Metric(const std::string& name) {
    for (const auto& family : registry_.Collect()) {
      if (family.name == name && !family.metric.empty()) return family.metric[0].counter.value;
    }
    return -1;
  }

  prometheus::Registry registry_;
  FakeBlockStore blockstore_;
  FakeMetadata metadata_;
  Committer committer_;
};

TEST_F(CommitterTest, CommitsAndAnswersTheNewVersionAndHeads) {
  blockstore_.cars = {"car1"};
  auto put = MakePut({{"e1", {}}}, {"car1"});
  Submit(*put);
  ASSERT_TRUE(put->result.has_value());
  ASSERT_TRUE(put->result->ok()) << put->result->status();
  EXPECT_EQ((*put->result)->version, 1u);
  EXPECT_THAT((*put->result)->heads, ElementsAre("e1"));
  EXPECT_EQ(Metric("kiln_merge_entries_accepted_total"), 1);
}

TEST_F(CommitterTest, LostCompareAndSetIsRetriedFromAFreshRead) {
  metadata_.abort_commits = 2;
  auto put = MakePut({{"e1", {}}}, {});
  Submit(*put);
  ASSERT_TRUE(put->result.has_value());
  ASSERT_TRUE(put->result->ok()) << put->result->status();
  EXPECT_EQ(metadata_.commits, 3);
  EXPECT_EQ(metadata_.reads, 3);
  EXPECT_EQ((*put->result)->version, 3u);  // two other writers' commits, then this one
  EXPECT_EQ(Metric("kiln_merge_commit_retries_total"), 2);
}

TEST_F(CommitterTest, GivesUpWithAbortedAfterMaxCommitAttempts) {
  metadata_.abort_commits = 1000;
  auto put = MakePut({{"e1", {}}}, {});
  Submit(*put);
  ASSERT_TRUE(put->result.has_value());
  EXPECT_EQ(put->result->status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(put->result->status().message(), HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(metadata_.commits, 3);  // max_commit_attempts, not one more
  EXPECT_EQ(Metric("kiln_merge_commit_retries_total"), 2);
  EXPECT_TRUE(metadata_.accepted.empty());
}

TEST_F(CommitterTest, MissingCarIsFailedPreconditionAndNothingIsCommitted) {
  auto put = MakePut({{"e1", {}}}, {"absent"});
  Submit(*put);
  ASSERT_TRUE(put->result.has_value());
  EXPECT_EQ(put->result->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(put->result->status().message(), HasSubstr("CAR absent is not in the block-store"));
  EXPECT_EQ(metadata_.commits, 0);
}

TEST_F(CommitterTest, PeerFailuresPassThrough) {
  blockstore_.fail = absl::UnavailableError("block-store down");
  auto a = MakePut({{"e1", {}}}, {"car1"});
  Submit(*a);
  ASSERT_TRUE(a->result.has_value());
  EXPECT_EQ(a->result->status().code(), absl::StatusCode::kUnavailable);
  blockstore_.fail = absl::OkStatus();
  metadata_.fail_reads = absl::UnavailableError("metadata down");
  auto b = MakePut({{"e2", {}}}, {});
  Submit(*b);
  ASSERT_TRUE(b->result.has_value());
  EXPECT_EQ(b->result->status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CommitterTest, AlreadyAcceptedEntriesAnswerWithoutACommit) {
  auto first = MakePut({{"e1", {}}}, {});
  Submit(*first);
  ASSERT_TRUE(first->result.has_value() && first->result->ok());
  auto again = MakePut({{"e1", {}}}, {});
  Submit(*again);
  ASSERT_TRUE(again->result.has_value());
  ASSERT_TRUE(again->result->ok()) << again->result->status();
  EXPECT_EQ((*again->result)->version, 1u);
  EXPECT_EQ(metadata_.commits, 1);
}

// Puts arriving while a ledger's batch is in flight ride together in the next batch: one read,
// one commit; a missing CAR fails only the put naming it.
TEST_F(CommitterTest, PutsQueuedBehindABatchShareOneCommit) {
  blockstore_.cars = {"car1", "car2"};
  metadata_.hold = true;
  blockstore_.hold = true;
  auto first = MakePut({{"e1", {}}}, {"car1"});
  Submit(*first);
  auto second = MakePut({{"e2", {"e1"}}}, {"car2"});
  auto third = MakePut({{"e3", {"e1"}}}, {"car2"});
  auto bad = MakePut({{"e4", {}}}, {"absent"});
  Submit(*second);
  Submit(*third);
  Submit(*bad);
  EXPECT_FALSE(first->result.has_value());
  metadata_.hold = false;
  blockstore_.hold = false;
  metadata_.Release();
  blockstore_.Release();
  for (auto* p : {first.get(), second.get(), third.get(), bad.get()})
    ASSERT_TRUE(p->result.has_value());
  ASSERT_TRUE(first->result->ok());
  EXPECT_EQ(bad->result->status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(second->result->ok()) << second->result->status();
  ASSERT_TRUE(third->result->ok()) << third->result->status();
  EXPECT_EQ(metadata_.commits, 2);  // the first put's, then one for the queued batch
  EXPECT_EQ((*second->result)->version, 2u);
  EXPECT_EQ((*third->result)->version, 2u);
  EXPECT_THAT((*third->result)->heads, ElementsAre("e2", "e3"));
  EXPECT_THAT(metadata_.accepted, ::testing::UnorderedElementsAre("e1", "e2", "e3"));
}

}  // namespace
}  // namespace kiln::merge
