#include "common/hash_chain.h"

#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

// Builds a chain of `n` records "record-<seq>" whose prev hashes link them.
struct Chain {
  std::vector<std::string> bytes;
  std::vector<ChainLink> links;
  std::string head;
};

Chain Build(int n) {
  Chain c;
  for (int i = 1; i <= n; ++i) c.bytes.push_back("record-" + std::to_string(i));
  std::string prev;
  for (int i = 0; i < n; ++i) {
    c.links.push_back({static_cast<uint64_t>(i + 1), prev, c.bytes[i]});
    prev = DigestBytes(Sha256(c.bytes[i]));
  }
  c.head = prev;
  return c;
}

TEST(VerifyHashChainTest, IntactChainVerifies) {
  Chain c = Build(5);
  EXPECT_TRUE(VerifyHashChain(c.links, "", c.head).ok());
  EXPECT_TRUE(VerifyHashChain({}, "", "").ok());
}

TEST(VerifyHashChainTest, AlteredMiddleRecordIsNamed) {
  Chain c = Build(5);
  c.bytes[2][0] = 'R';
  c.links[2].bytes = c.bytes[2];
  absl::Status s = VerifyHashChain(c.links, "", c.head);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 3 was altered"));
}

TEST(VerifyHashChainTest, AlteredLastRecordIsCaughtByTheHeadHash) {
  Chain c = Build(3);
  c.bytes[2] += "!";
  c.links[2].bytes = c.bytes[2];
  absl::Status s = VerifyHashChain(c.links, "", c.head);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 3 "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("ledger head"));
}

TEST(VerifyHashChainTest, MissingRecordIsNamed) {
  Chain c = Build(4);
  c.links.erase(c.links.begin() + 1);
  absl::Status s = VerifyHashChain(c.links, "", c.head);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 3 follows record 1"));
}

TEST(VerifyHashChainTest, WrongStartIsNamed) {
  Chain c = Build(3);
  absl::Status s = VerifyHashChain(c.links, std::string(32, 'x'), c.head);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 1 "));
}

}  // namespace
}  // namespace kiln
