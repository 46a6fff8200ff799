// The send budget: per-connection and edge-wide limits, and who is cut off when the edge is full.
#include "services/edge/send_budget.h"

#include <memory>

#include "gtest/gtest.h"

namespace kiln::edge {
namespace {

class FakeConn : public QueueOwner {
 public:
  void CutOff() override { ++cut_offs; }
  int cut_offs = 0;
};

TEST(SendBudgetTest, AConnectionOverItsOwnLimitIsToldToCloseItself) {
  SendBudget budget(/*per_connection_bytes=*/100, /*total_bytes=*/1000);
  auto a = std::make_shared<FakeConn>();
  EXPECT_EQ(budget.Add(a, 60), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.Add(a, 40), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.Add(a, 1), SendBudget::Verdict::kCutOffCaller);
  EXPECT_EQ(a->cut_offs, 0) << "the caller closes itself; CutOff is for others";
  budget.Remove(a.get());
  EXPECT_EQ(budget.total(), 0u);
}

TEST(SendBudgetTest, SentBytesFreeTheBudget) {
  SendBudget budget(100, 1000);
  auto a = std::make_shared<FakeConn>();
  EXPECT_EQ(budget.Add(a, 90), SendBudget::Verdict::kOk);
  budget.Release(a.get(), 90);
  EXPECT_EQ(budget.queued(a.get()), 0u);
  EXPECT_EQ(budget.Add(a, 90), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.total(), 90u);
}

TEST(SendBudgetTest, OverTheEdgeTotalTheLargestQueueIsCutOffFirst) {
  SendBudget budget(100, 150);
  auto slow = std::make_shared<FakeConn>();
  auto fast = std::make_shared<FakeConn>();
  EXPECT_EQ(budget.Add(slow, 90), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.Add(fast, 50), SendBudget::Verdict::kOk);
  // fast's next message tips the total over: slow, holding the most, goes.
  EXPECT_EQ(budget.Add(fast, 20), SendBudget::Verdict::kCutOffOther);
  EXPECT_EQ(slow->cut_offs, 1);
  EXPECT_EQ(fast->cut_offs, 0);
  EXPECT_EQ(budget.total(), 70u) << "the victim's bytes no longer count";
  // Its late releases do not underflow anything.
  budget.Release(slow.get(), 90);
  EXPECT_EQ(budget.total(), 70u);
}

TEST(SendBudgetTest, WhenTheCallerHoldsTheMostItIsTheOneToGo) {
  SendBudget budget(100, 150);
  auto a = std::make_shared<FakeConn>();
  auto b = std::make_shared<FakeConn>();
  auto c = std::make_shared<FakeConn>();
  EXPECT_EQ(budget.Add(a, 10), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.Add(b, 60), SendBudget::Verdict::kOk);
  EXPECT_EQ(budget.Add(c, 70), SendBudget::Verdict::kOk);
  // c tips the total over and holds the most itself.
  EXPECT_EQ(budget.Add(c, 15), SendBudget::Verdict::kCutOffCaller);
  EXPECT_EQ(a->cut_offs + b->cut_offs + c->cut_offs, 0);
}

}  // namespace
}  // namespace kiln::edge
