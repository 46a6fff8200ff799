#include "common/backend_url.h"

#include "common/rocksdb_url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(ParseBackendUrlTest, RocksDbUrlHasEmptyHostAbsolutePathAndParams) {
  auto url = ParseBackendUrl("rocksdb:///var/lib/kiln/blocks?sync=false&block_cache_mb=8");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "rocksdb");
  EXPECT_EQ(url->host, "");
  EXPECT_EQ(url->path, "/var/lib/kiln/blocks");
  EXPECT_EQ(url->Param("sync", "true"), "false");
  EXPECT_EQ(*url->BoolParam("sync", true), false);
  EXPECT_EQ(*url->UintParam("block_cache_mb", 64), 8u);
  EXPECT_EQ(*url->UintParam("absent", 64), 64u);
}

TEST(ParseBackendUrlTest, MemoryUrlParsesAndSchemeIsLowerCased) {
  auto url = ParseBackendUrl("MEMORY://");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, "memory");
  EXPECT_TRUE(url->params.empty());
}

TEST(ParseBackendUrlTest, PercentEncodedPathAndParamsAreDecoded) {
  auto url = ParseBackendUrl("rocksdb:///data/my%20dir?name=a%2Fb");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->path, "/data/my dir");
  EXPECT_EQ(url->Param("name", ""), "a/b");
}

// Found by tests/fuzz (backend_url): Boost.URL crashed iterating an empty query before a fragment.
TEST(ParseBackendUrlTest, EmptyQueryHasNoParamsEvenBeforeAFragment) {
  for (const char* text : {"memory://?", "memory://?#x", "s:?#"}) {
    auto url = ParseBackendUrl(text);
    ASSERT_TRUE(url.ok()) << text << ": " << url.status();
    EXPECT_TRUE(url->params.empty()) << text;
    EXPECT_TRUE(url->CheckParams({}).ok()) << text;
  }
}

TEST(ParseBackendUrlTest, TextWithoutSchemeIsInvalidArgument) {
  auto url = ParseBackendUrl("/var/lib/kiln");
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(url.status().message()), HasSubstr("rocksdb:///"));
}

TEST(BackendUrlTest, NonBooleanValueIsInvalidArgumentNamingTheParameter) {
  auto url = ParseBackendUrl("rocksdb:///x?sync=maybe");
  ASSERT_TRUE(url.ok());
  auto b = url->BoolParam("sync", true);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("sync=maybe"));
}

TEST(BackendUrlTest, NonNumericValueIsInvalidArgument) {
  auto url = ParseBackendUrl("rocksdb:///x?block_cache_mb=-3");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->UintParam("block_cache_mb", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BackendUrlTest, CheckParamsNamesTheUnknownParameter) {
  auto url = ParseBackendUrl("rocksdb:///x?snyc=false");
  ASSERT_TRUE(url.ok());
  absl::Status s = url->CheckParams({"sync"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("snyc"));
  EXPECT_TRUE(url->CheckParams({"sync", "snyc"}).ok());
}

TEST(ParseRocksDbUrlTest, ReadsPathSyncAndBlockCacheWithDefaults) {
  auto given = ParseBackendUrl("rocksdb:///data/k?sync=false&block_cache_mb=8&extra=1");
  ASSERT_TRUE(given.ok()) << given.status();
  absl::StatusOr<RocksDbUrlOptions> options = ParseRocksDbUrl(*given, {"extra"}, "/d");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->path, "/data/k");
  EXPECT_FALSE(options->sync);
  EXPECT_EQ(options->block_cache_bytes, 8u << 20);
  auto bare = ParseBackendUrl("rocksdb:///data/k");
  ASSERT_TRUE(bare.ok()) << bare.status();
  options = ParseRocksDbUrl(*bare, {}, "/d");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->sync);
  EXPECT_EQ(options->block_cache_bytes, 64u << 20);
}

TEST(ParseRocksDbUrlTest, RefusesHostRelativePathAndUnknownParameters) {
  for (absl::string_view text :
       {"rocksdb://host/data", "rocksdb://relative/dir", "rocksdb://", "rocksdb:///d?extra=1"}) {
    auto url = ParseBackendUrl(text);
    ASSERT_TRUE(url.ok()) << text << ": " << url.status();
    EXPECT_EQ(ParseRocksDbUrl(*url, {}, "/var/lib/x").status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
  auto relative = ParseBackendUrl("rocksdb://relative/dir");
  ASSERT_TRUE(relative.ok());
  EXPECT_THAT(std::string(ParseRocksDbUrl(*relative, {}, "/var/lib/x").status().message()),
              HasSubstr("needs an absolute path and no host: rocksdb:///var/lib/x"));
}

struct Thing {
  std::string made_from;
};

TEST(BackendRegistryTest, CreatesWithTheFactoryOfTheScheme) {
  BackendRegistry<Thing> registry;
  registry.Register("a", [](const BackendUrl& url) -> absl::StatusOr<std::unique_ptr<Thing>> {
    return std::make_unique<Thing>(Thing{"a:" + url.path});
  });
  registry.Register("b", [](const BackendUrl&) -> absl::StatusOr<std::unique_ptr<Thing>> {
    return absl::FailedPreconditionError("b is broken");
  });
  auto a = registry.Create("a:///p");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->made_from, "a:/p");
  EXPECT_EQ(registry.Create("b://").status().code(), absl::StatusCode::kFailedPrecondition);
  auto unknown = registry.Create("c://");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("known schemes: a://, b://"));
}

}  // namespace
}  // namespace kiln
