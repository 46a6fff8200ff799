#include "common/shards.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ShardFor, OneShardTakesEverything) {
  EXPECT_EQ(ShardFor(1, LedgerRef("t", "l")), 0u);
  EXPECT_EQ(ShardFor(1, LedgerRef("", "")), 0u);
}

// Placement is part of the on-disk layout of a deployment: these values must never change. They
// were cross-checked with Python: max over i of sha256(b"kiln-shard\0" + i.to_bytes(4, "big") +
// tenant + b"\0" + ledger)[:8] read big-endian.
TEST(ShardFor, PlacementIsPinned) {
  std::vector<size_t> got;
  for (const char* ledger : {"a", "b", "c", "d", "e", "f", "g", "h"}) {
    got.push_back(ShardFor(3, LedgerRef("tenant", ledger)));
  }
  EXPECT_THAT(got, ElementsAre(1, 0, 0, 1, 1, 0, 2, 0));
}

TEST(ShardFor, TenantAndLedgerAreNotConcatenated) {
  // ("ab", "c") and ("a", "bc") are different ledgers and must hash independently: over many
  // pairs, some land on different shards.
  int differ = 0;
  for (int i = 0; i < 64; ++i) {
    std::string x = absl::StrCat("t", i);
    if (ShardFor(4, LedgerRef(x + "a", "b")) != ShardFor(4, LedgerRef(x, "ab"))) ++differ;
  }
  EXPECT_GT(differ, 0);
}

TEST(ShardFor, SpreadsLedgersEvenly) {
  constexpr int kLedgers = 12000;
  std::vector<int> count(3);
  for (int i = 0; i < kLedgers; ++i)
    ++count[ShardFor(3, LedgerRef("tenant", absl::StrCat("ledger-", i)))];
  for (int c : count) {
    EXPECT_GT(c, kLedgers / 3 * 0.9)
        << "shard counts " << count[0] << " " << count[1] << " " << count[2];
    EXPECT_LT(c, kLedgers / 3 * 1.1);
  }
}

TEST(ShardFor, AddingAShardOnlyMovesLedgersToIt) {
  constexpr int kLedgers = 8000;
  int moved = 0;
  for (int i = 0; i < kLedgers; ++i) {
    std::string ledger = absl::StrCat("ledger-", i);
    size_t before = ShardFor(3, LedgerRef("t", ledger));
    size_t after = ShardFor(4, LedgerRef("t", ledger));
    if (before != after) {
      EXPECT_EQ(after, 3u) << ledger << " moved from " << before << " to " << after;
      ++moved;
    }
  }
  // About a quarter moves to the new shard.
  EXPECT_GT(moved, kLedgers / 4 * 0.9);
  EXPECT_LT(moved, kLedgers / 4 * 1.1);
}

TEST(ShardOwnership, ParsesNumbersAndPodNames) {
  auto plain = ShardOwnership::Parse("2", 3);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->index(), 2u);
  EXPECT_EQ(plain->count(), 3u);
  auto pod = ShardOwnership::Parse("kiln-metadata-1", 3);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->index(), 1u);
  auto unsharded = ShardOwnership::Parse("whatever", 0);
  ASSERT_TRUE(unsharded.ok());
  EXPECT_FALSE(unsharded->sharded());

  EXPECT_THAT(ShardOwnership::Parse("3", 3).status().message(), HasSubstr("not below"));
  EXPECT_THAT(ShardOwnership::Parse("kiln-metadata", 3).status().message(),
              HasSubstr("neither a number"));
  EXPECT_EQ(ShardOwnership::Parse("0", -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShardOwnership, AcceptsItsOwnLedgersAndNamesTheOwnerOfOthers) {
  ShardOwnership zero(0, 3), one(1, 3), two(2, 3), all;
  for (int i = 0; i < 50; ++i) {
    std::string ledger = absl::StrCat("l", i);
    size_t owner = ShardFor(3, LedgerRef("t", ledger));
    int accepted = 0;
    for (const ShardOwnership* s : {&zero, &one, &two}) {
      absl::Status st = s->Check(LedgerRef("t", ledger));
      if (st.ok()) {
        ++accepted;
        EXPECT_EQ(s->index(), owner);
      } else {
        EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_THAT(st.message(), HasSubstr(absl::StrCat("belongs to shard ", owner, " of 3")));
      }
    }
    EXPECT_EQ(accepted, 1) << ledger;
    EXPECT_TRUE(all.Check(LedgerRef("t", ledger)).ok());
  }
}

TEST(ParseShardList, SplitsAndTrims) {
  auto targets = ParseShardList("a:1, b:2 ,dns:///c:3", "metadata_target");
  ASSERT_TRUE(targets.ok()) << targets.status();
  EXPECT_THAT(*targets, ElementsAre("a:1", "b:2", "dns:///c:3"));
}

TEST(ParseShardList, RejectsEmptyEntriesAndDuplicates) {
  for (const char* bad : {"", "  ", "a:1,", ",a:1", "a:1,,b:2"}) {
    auto r = ParseShardList(bad, "metadata_target");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\"";
    EXPECT_THAT(r.status().message(), HasSubstr("--metadata_target")) << bad;
  }
  auto dup = ParseShardList("a:1,b:2,a:1", "blockstore_target");
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("a:1 twice"));
}

TEST(ShardedChannels, RoutesWithShardFor) {
  auto shards = ShardedChannels::Create("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "t");
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_THAT(shards->targets(), ElementsAre("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"));
  for (int i = 0; i < 20; ++i) {
    std::string ledger = absl::StrCat("l", i);
    size_t want = ShardFor(3, LedgerRef("t", ledger));
    EXPECT_EQ(shards->ShardOf(LedgerRef("t", ledger)), want);
    EXPECT_EQ(shards->For(LedgerRef("t", ledger)), shards->channels()[want]);
  }
}

TEST(ShardedChannels, AResolverTargetIsOneUnshardedServiceNotAShardList) {
  // Metadata replicas on PostgreSQL: every replica serves every ledger.
  auto any = ShardedChannels::Create("ipv4:127.0.0.1:1,127.0.0.1:2", "metadata_target");
  ASSERT_TRUE(any.ok()) << any.status();
  ASSERT_EQ(any->size(), 1u);
  EXPECT_THAT(any->targets(), ElementsAre("ipv4:127.0.0.1:1,127.0.0.1:2"));
  EXPECT_EQ(any->ShardOf(LedgerRef("t", "l")), 0u);
  auto dns = ShardedChannels::Create("dns:///kiln-metadata:7102", "metadata_target");
  ASSERT_TRUE(dns.ok()) << dns.status();
  EXPECT_EQ(dns->size(), 1u);
}

}  // namespace
}  // namespace kiln
