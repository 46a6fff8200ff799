// The tenant and ledger id grammar every service enforces.
#include "common/ids.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(ValidateIdTest, AcceptsWhatFireproofClientsSend) {
  for (const std::string& id : std::vector<std::string>{
           "t1", "test", "my-ledger", "history-1a2b3c4d", "zHQzAFmdgnyHAsNUF2cg1pJr",
           "a.b_c~d:e@f+g=h", std::string(kMaxIdBytes, 'x'), std::string("..a"),
           std::string(".hidden")}) {
    EXPECT_TRUE(ValidateId(id, "ledger").ok()) << id;
  }
}

TEST(ValidateIdTest, RefusesWhatCouldEscapeAPathOrALogLine) {
  struct Case {
    std::string id;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "ledger must not be empty"},
      {std::string(kMaxIdBytes + 1, 'x'), "ledger is 257 bytes; at most 256 allowed"},
      {".", "must not be \".\" or \"..\""},
      {"..", "must not be \".\" or \"..\""},
      {"a/b", "at byte 1"},
      {"../x", "at byte 2"},
      {std::string("a\0b", 3), "at byte 1"},
      {"a\r\nb", "at byte 1"},
      {"a b", "at byte 1"},
      {"a%2Fb", "at byte 1"},
      {"a?b", "at byte 1"},
      {"\xc3\xa9", "at byte 0"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateId(c.id, "ledger");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.id;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.id;
  }
}

}  // namespace
}  // namespace kiln
