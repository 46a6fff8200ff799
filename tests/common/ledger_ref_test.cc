#include "common/ledger_ref.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "common/shards.h"
#include "common/store_kind.h"
#include "common/store_kind_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(LedgerRefTest, ParseAcceptsIdsInTheGrammar) {
  absl::StatusOr<LedgerRef> ref = LedgerRef::Parse("tenant-1", "ledger:main");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->tenant(), "tenant-1");
  EXPECT_EQ(ref->ledger(), "ledger:main");
}

TEST(LedgerRefTest, ParseRefusesBadIdsNamingTheField) {
  absl::StatusOr<LedgerRef> bad_tenant = LedgerRef::Parse("", "l", "ref.tenant", "ref.ledger");
  EXPECT_EQ(bad_tenant.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_tenant.status().message(), HasSubstr("ref.tenant"));
  absl::StatusOr<LedgerRef> bad_ledger = LedgerRef::Parse("t", "a/b");
  EXPECT_EQ(bad_ledger.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_ledger.status().message(), HasSubstr("ledger"));
  EXPECT_EQ(LedgerRef::Parse("t", "..").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LedgerRefTest, EqualityOrderAndHashSeeBothIds) {
  // Concatenating the ids would make these two equal.
  LedgerRef ab("a", "bc");
  LedgerRef abc("ab", "c");
  EXPECT_NE(ab, abc);
  EXPECT_EQ(ab, LedgerRef("a", "bc"));
  EXPECT_TRUE(ab < abc);
  EXPECT_FALSE(abc < ab);
  absl::flat_hash_set<LedgerRef> set = {ab, abc, LedgerRef("a", "bc")};
  EXPECT_EQ(set.size(), 2u);
}

TEST(LedgerRefTest, ShardOfAgreesWithShardFor) {
  for (int i = 0; i < 50; ++i) {
    LedgerRef ref("tenant", "ledger-" + std::to_string(i));
    for (size_t count : {1u, 2u, 3u, 7u}) {
      EXPECT_EQ(ref.ShardOf(count), ShardFor(count, ref));
    }
  }
}

TEST(LedgerRefTest, KeyPrefixIsLengthPrefixedAndPrefixFree) {
  EXPECT_EQ(LedgerRef("t", "led").KeyPrefix(), std::string("\x01t\x03led", 6));
  // "a"+"bc" and "ab"+"c" differ, and neither prefix starts the other.
  std::string one = LedgerRef("a", "bc").KeyPrefix();
  std::string two = LedgerRef("ab", "c").KeyPrefix();
  EXPECT_NE(one, two);
  EXPECT_NE(one.substr(0, two.size()), two);
  EXPECT_NE(two.substr(0, one.size()), one);
  std::string appended = "X";
  LedgerRef("t", "led").AppendKeyPrefix(&appended);
  EXPECT_EQ(appended, "X" + LedgerRef("t", "led").KeyPrefix());
  // Ids of 128 bytes and more take a two-byte length.
  EXPECT_EQ(LedgerRef(std::string(200, 't'), "l").KeyPrefix().size(), 2u + 200u + 1u + 1u);
}

TEST(PrefixUpperBoundTest, IsTheSmallestStringAboveThePrefixRange) {
  EXPECT_EQ(PrefixUpperBound("abc"), "abd");
  EXPECT_EQ(PrefixUpperBound(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixUpperBound(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(PrefixUpperBound(""), "");
  std::string prefix = LedgerRef("t", "l").KeyPrefix();
  EXPECT_LT(prefix + std::string(10, '\xff'), PrefixUpperBound(prefix));
}

TEST(StoreKindTest, NamesRoundTrip) {
  for (StoreKind kind : kAllStoreKinds) {
    EXPECT_EQ(StoreKindFromName(StoreKindName(kind)), kind);
    EXPECT_EQ(StoreKindFromProto(ToProto(kind)), kind);
  }
  EXPECT_EQ(StoreKindName(StoreKind::kCar), "car");
  EXPECT_EQ(StoreKindName(StoreKind::kWal), "wal");
  EXPECT_EQ(StoreKindFromName("CAR"), std::nullopt);
  EXPECT_EQ(StoreKindFromName(""), std::nullopt);
}

TEST(StoreKindTest, ProtoNumbersMatchAndUnspecifiedHasNoKind) {
  EXPECT_EQ(ToProto(StoreKind::kCar), blockstore::v1::STORE_CAR);
  EXPECT_EQ(ToProto(StoreKind::kFile), blockstore::v1::STORE_FILE);
  EXPECT_EQ(ToProto(StoreKind::kMeta), blockstore::v1::STORE_META);
  EXPECT_EQ(ToProto(StoreKind::kWal), blockstore::v1::STORE_WAL);
  EXPECT_EQ(StoreKindFromProto(blockstore::v1::STORE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(StoreKindFromProto(static_cast<blockstore::v1::Store>(99)), std::nullopt);
}

}  // namespace
}  // namespace kiln
