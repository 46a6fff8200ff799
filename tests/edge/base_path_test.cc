#include "services/edge/base_path.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;

TEST(BasePathTest, AcceptsNoPrefixAndPlainPaths) {
  EXPECT_TRUE(ValidateBasePath("").ok());
  EXPECT_TRUE(ValidateBasePath("/kiln").ok());
  EXPECT_TRUE(ValidateBasePath("/team-a/kiln_1.v2").ok());
}

TEST(BasePathTest, RefusesWhatIsNotAPlainPathNamingTheProblem) {
  struct Case {
    const char* path;
    const char* why;
  } cases[] = {
      {"kiln", "must start with /"},
      {"/kiln/", "must not end with /"},
      {"/", "must not end with /"},
      {"/a//b", "empty, . or .. segment"},
      {"/a/../b", "empty, . or .. segment"},
      {"/a?x=1", "only letters"},
      {"/a#b", "only letters"},
      {"/a%2Fb", "only letters"},
  };
  for (const auto& c : cases) {
    absl::Status s = ValidateBasePath(c.path);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.path;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.why)) << c.path;
  }
}

TEST(BasePathTest, RoutesUnderThePrefixAndAtTheRoot) {
  EXPECT_EQ(RoutePath("/kiln", "/kiln"), "/fp");  // the client's gestalt goes to the prefix
  EXPECT_EQ(RoutePath("/kiln/", "/kiln"), "/fp");
  EXPECT_EQ(RoutePath("/kiln/fp", "/kiln"), "/fp");
  EXPECT_EQ(RoutePath("/kiln/ws", "/kiln"), "/ws");
  EXPECT_EQ(RoutePath("/kiln/blob/t/l/car/k", "/kiln"), "/blob/t/l/car/k");
  EXPECT_EQ(RoutePath("/ws", "/kiln"), "/ws");  // an ingress that strips the prefix
  EXPECT_EQ(RoutePath("/", "/kiln"), "/fp");
  EXPECT_EQ(RoutePath("/kilnx/ws", "/kiln"), "/kilnx/ws");  // not under the prefix
  EXPECT_EQ(RoutePath("/fp", ""), "/fp");
  EXPECT_EQ(RoutePath("", ""), "/fp");
  EXPECT_EQ(RoutePath("/healthz", ""), "/healthz");
}

}  // namespace
}  // namespace kiln::edge
