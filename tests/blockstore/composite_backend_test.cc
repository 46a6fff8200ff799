// cache(...) and mirror(...): spec parsing and errors, LRU by bytes, mirror fallback, rollback
// and repair. The conformance suite runs them too (backend_conformance_test.cc).
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/cache_backend.h"
#include "services/blockstore/memory_backend.h"
#include "services/blockstore/mirror_backend.h"

namespace kiln::blockstore {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

BlobKey Key(const std::string& key) { return BlobKey{{"t1", "l1"}, Store::kMeta, key}; }

absl::StatusOr<PutOutcome> Put(BlockBackend& b, const std::string& key, const std::string& data) {
  return b.Put(Key(key), data, Sha256(data));
}

bool Has(BlockBackend& b, const std::string& key) { return b.Get(Key(key)).ok(); }

TEST(BackendSpecTest, WrapperArgumentsNestAndKeepQueryStrings) {
  auto call = ParseWrapperCall(
      " cache( memory:// , mirror(rocksdb:///a, s3://b/p?endpoint=http://h:1&region=r), "
      "max_bytes=10 ) ");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->name, "cache");
  EXPECT_THAT(call->args, ElementsAre("memory://",
                                      "mirror(rocksdb:///a, s3://b/p?endpoint=http://h:1&region=r)",
                                      "max_bytes=10"));
  EXPECT_EQ(ParseWrapperCall("rocksdb:///var/lib/kiln").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BackendSpecTest, BadSpecsAreInvalidArgumentSayingWhatIsWrong) {
  struct Case {
    std::string spec;
    std::string says;
  } cases[] = {
      {"cache(memory://)", "takes two backends"},
      {"cache(memory://, memory://", "does not end with"},
      {"cache(memory://, (memory://)", "unbalanced"},
      {"cache(memory://, , memory://)", "empty argument"},
      {"frob(memory://)", "unknown backend wrapper \"frob(...)\""},
      {"cache(s3://b/p, memory://)", "front store must be memory:// or rocksdb://"},
      {"cache(memory://, memory://, max_bytes=0)", "max_bytes=0"},
      {"cache(memory://, memory://, size=1)", "unknown option \"size\""},
      {"mirror(memory://, nosuch://x)", "in argument 2 of mirror(...): unknown backend scheme"},
      {"mirror(memory://, mirror(memory://))", "in argument 2 of mirror(...): mirror(FIRST"},
      {"mirror(memory://, memory://, memory://)", "exactly two backends"},
  };
  for (const Case& c : cases) {
    auto backend = CreateBlockBackend(c.spec);
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument) << c.spec;
    EXPECT_THAT(std::string(backend.status().message()), HasSubstr(c.says)) << c.spec;
  }
  EXPECT_TRUE(CreateBlockBackend("cache(memory://, mirror(memory://, memory://))").ok());
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto front = std::make_unique<MemoryBlockBackend>();
    auto back = std::make_unique<MemoryBlockBackend>();
    front_ = front.get();
    back_ = back.get();
    cache_ = std::make_unique<CacheBlockBackend>(std::move(front), std::move(back), 100);
  }

  MemoryBlockBackend* front_;
  MemoryBlockBackend* back_;
  std::unique_ptr<CacheBlockBackend> cache_;
};

TEST_F(CacheTest, WritesGoThroughAndTheLeastRecentlyUsedBytesAreEvicted) {
  const std::string forty(40, 'x');
  ASSERT_TRUE(Put(*cache_, "a", forty + "a").ok());
  ASSERT_TRUE(Put(*cache_, "b", forty + "b").ok());
  EXPECT_TRUE(Has(*front_, "a") && Has(*front_, "b"));
  ASSERT_TRUE(cache_->Get(Key("a")).ok());  // a is now more recent than b
  ASSERT_TRUE(Put(*cache_, "c", forty + "c").ok());
  EXPECT_TRUE(Has(*front_, "a"));
  EXPECT_FALSE(Has(*front_, "b"));
  EXPECT_TRUE(Has(*front_, "c"));
  EXPECT_EQ(cache_->cached_bytes(), 82u);
  // Every write reached the back store.
  EXPECT_TRUE(Has(*back_, "a") && Has(*back_, "b") && Has(*back_, "c"));
}

TEST_F(CacheTest, ReadsOfUncachedBlobsFillTheFrontStore) {
  ASSERT_TRUE(Put(*back_, "x", "only in back").ok());
  EXPECT_FALSE(Has(*front_, "x"));
  auto blob = cache_->Get(Key("x"));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ((*blob)->data(), "only in back");
  EXPECT_TRUE(Has(*front_, "x"));
}

TEST_F(CacheTest, BlobsLargerThanTheBoundAreNotCached) {
  ASSERT_TRUE(Put(*cache_, "big", std::string(101, 'b')).ok());
  EXPECT_FALSE(Has(*front_, "big"));
  EXPECT_TRUE(Has(*back_, "big"));
}

TEST_F(CacheTest, DeleteRemovesFromBothStores) {
  ASSERT_TRUE(Put(*cache_, "d", "bytes").ok());
  ASSERT_TRUE(cache_->Delete(Key("d")).ok());
  EXPECT_FALSE(Has(*front_, "d"));
  EXPECT_FALSE(Has(*back_, "d"));
  EXPECT_EQ(cache_->cached_bytes(), 0u);
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto first = std::make_unique<MemoryBlockBackend>();
    auto second = std::make_unique<MemoryBlockBackend>();
    first_ = first.get();
    second_ = second.get();
    mirror_ = std::make_unique<MirrorBlockBackend>(std::move(first), std::move(second));
  }

  MemoryBlockBackend* first_;
  MemoryBlockBackend* second_;
  std::unique_ptr<MirrorBlockBackend> mirror_;
};

TEST_F(MirrorTest, PutLandsInBothAndGetFallsBackToTheSecond) {
  ASSERT_EQ(*Put(*mirror_, "k", "bytes"), PutOutcome::kCreated);
  EXPECT_TRUE(Has(*first_, "k") && Has(*second_, "k"));
  ASSERT_TRUE(first_->Delete(Key("k")).ok());
  auto blob = mirror_->Get(Key("k"));
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), "bytes");
  auto stats = mirror_->BatchStat({"t1", "l1"}, Store::kMeta, {"k", "missing"});
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE((*stats)[0].has_value());
  EXPECT_FALSE((*stats)[1].has_value());
}

TEST_F(MirrorTest, SecondHoldingOtherBytesIsAlreadyExistsAndTheFirstIsRolledBack) {
  ASSERT_TRUE(Put(*second_, "k", "older bytes").ok());
  EXPECT_EQ(Put(*mirror_, "k", "newer bytes").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(Has(*first_, "k"));
}

TEST_F(MirrorTest, RepairCopiesWhatEachStoreLacks) {
  ASSERT_TRUE(Put(*first_, "only-first", "1").ok());
  ASSERT_TRUE(Put(*second_, "only-second", "2").ok());
  ASSERT_TRUE(Put(*mirror_, "both", "3").ok());
  auto listed = mirror_->List({"t1", "l1"}, Store::kMeta, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->entries.size(), 3u);
  auto report = mirror_->Repair({"t1", "l1"}, Store::kMeta);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->copied_to_second, 1u);
  EXPECT_EQ(report->copied_to_first, 1u);
  EXPECT_EQ(report->failed, 0u);
  EXPECT_TRUE(Has(*second_, "only-first"));
  EXPECT_TRUE(Has(*first_, "only-second"));
}

TEST_F(MirrorTest, ListOfTheUnionPagesWithoutSkippingKeys) {
  for (const char* k : {"a", "c", "e"}) ASSERT_TRUE(Put(*first_, k, k).ok());
  for (const char* k : {"b", "d", "f"}) ASSERT_TRUE(Put(*second_, k, k).ok());
  std::vector<std::string> keys;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = mirror_->List({"t1", "l1"}, Store::kMeta, after, 2);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->entries) keys.push_back(e.key);
    if (!page->more) break;
    after = keys.back();
  }
  EXPECT_THAT(keys, ElementsAre("a", "b", "c", "d", "e", "f"));
}

}  // namespace
}  // namespace kiln::blockstore
