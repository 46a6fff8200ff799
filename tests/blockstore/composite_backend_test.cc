// cache(...) and mirror(...): spec parsing and errors, LRU by bytes, mirror fallback, rollback
// and repair, and both streaming (writers and readers that pass pieces, fills within the limit,
// a store failing mid-write). The conformance suite runs them too (backend_conformance_test.cc).
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/cache_backend.h"
#include "services/blockstore/memory_backend.h"
#include "services/blockstore/mirror_backend.h"
#include "tests/blockstore/streaming_memory_backend.h"

namespace kiln::blockstore {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StreamingMemoryBackend;

BlobKey Key(const std::string& key) { return BlobKey{{"t1", "l1"}, Store::kMeta, key}; }

absl::StatusOr<PutOutcome> Put(BlockBackend& b, const std::string& key, const std::string& data) {
  return b.Put(Key(key), data, Sha256(data));
}

bool Has(BlockBackend& b, const std::string& key) { return b.Get(Key(key)).ok(); }

// Bytes of a blob of `size` that differ from offset to offset.
std::string Bytes(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 23);
  return data;
}

constexpr size_t kPiece = 16;  // the streaming stores' batch and window

// Writes `data` through `backend`'s writer in pieces of `piece` bytes and commits it.
absl::StatusOr<PutOutcome> StreamPut(BlockBackend& backend, const std::string& key,
                                     const std::string& data, size_t piece) {
  KILN_ASSIGN_OR_RETURN(auto writer, backend.NewWriter(Key(key), data.size()));
  for (size_t offset = 0; offset < data.size(); offset += piece) {
    KILN_RETURN_IF_ERROR(writer->Write(data.substr(offset, piece)));
  }
  return writer->Commit(Sha256(data));
}

absl::StatusOr<std::string> StreamGet(BlockBackend& backend, const std::string& key) {
  KILN_ASSIGN_OR_RETURN(auto reader, backend.NewReader(Key(key)));
  return ReadAll(*reader);
}

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
      {"cache(memory://, memory://, max_blob_bytes=-1)", "max_blob_bytes=-1 is not a positive"},
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
  EXPECT_TRUE(
      CreateBlockBackend("cache(memory://, memory://, max_blob_bytes=1, max_bytes=9)").ok());
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto front = std::make_unique<MemoryBlockBackend>();
    auto back = std::make_unique<StreamingMemoryBackend>(kPiece, kPiece);
    front_ = front.get();
    back_ = back.get();
    cache_ = std::make_unique<CacheBlockBackend>(std::move(front), std::move(back),
                                                 CacheBlockBackendOptions{.max_bytes = 100});
  }

  MemoryBlockBackend* front_;
  StreamingMemoryBackend* back_;
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

TEST_F(CacheTest, StreamedPutGoesThroughInPiecesAndFillsTheFrontOnCommit) {
  const std::string data = Bytes(90);
  auto writer = cache_->NewWriter(Key("s"), data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->preferred_write_bytes(), kPiece);
  EXPECT_EQ((*writer)->held_bytes(), kPiece + data.size());  // + copy
  for (size_t offset = 0; offset < data.size(); offset += 16) {
    ASSERT_TRUE((*writer)->Write(data.substr(offset, 16)).ok());
  }
  EXPECT_FALSE(Has(*front_, "s"));
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);
  EXPECT_EQ(back_->largest_write.load(), 16u);
  EXPECT_EQ((*front_->Get(Key("s")))->data(), data);
  EXPECT_EQ(cache_->cached_bytes(), 90u);
}

TEST_F(CacheTest, StreamedPutAboveTheFillLimitReachesOnlyTheBackStore) {
  const std::string data = Bytes(250);
  EXPECT_EQ((*cache_->NewWriter(Key("big"), data.size()))->held_bytes(),
            kPiece);  // no copy
  ASSERT_EQ(*StreamPut(*cache_, "big", data, 16), PutOutcome::kCreated);
  EXPECT_EQ(back_->largest_write.load(), 16u);
  EXPECT_FALSE(Has(*front_, "big"));
  EXPECT_EQ(cache_->cached_bytes(), 0u);
  EXPECT_EQ(*StreamGet(*cache_, "big"), data);
  EXPECT_FALSE(Has(*front_, "big"));
}

TEST_F(CacheTest, StreamedPutThatFailsFillsNothing) {
  back_->fail_write = 2;
  EXPECT_EQ(StreamPut(*cache_, "f", Bytes(40), 16).status().code(), absl::StatusCode::kUnavailable);
  back_->fail_write = 0;
  back_->fail_commit = true;
  EXPECT_EQ(StreamPut(*cache_, "f", Bytes(40), 16).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Has(*front_, "f"));
  EXPECT_FALSE(Has(*back_, "f"));
}

TEST_F(CacheTest, StreamedReadOfAMissFillsTheFrontOnceTheLastWindowIsRead) {
  const std::string data = Bytes(70);
  ASSERT_TRUE(Put(*back_, "m", data).ok());
  auto reader = cache_->NewReader(Key("m"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().size, 70u);
  std::string got;
  for (int window = 0; window < 4; ++window) absl::StrAppend(&got, *(*reader)->Read());
  EXPECT_FALSE(Has(*front_, "m"));  // 64 of 70 bytes read
  absl::StrAppend(&got, *(*reader)->Read());
  EXPECT_EQ(got, data);
  EXPECT_EQ((*front_->Get(Key("m")))->data(), data);
  EXPECT_EQ(back_->windows_read.load(), 5);
  // Now a hit: served by the front, the back store is not read again.
  EXPECT_EQ(*StreamGet(*cache_, "m"), data);
  EXPECT_EQ(back_->windows_read.load(), 5);
}

TEST_F(CacheTest, StreamedReadLeftUnfinishedFillsNothing) {
  ASSERT_TRUE(Put(*back_, "u", Bytes(70)).ok());
  {
    auto reader = cache_->NewReader(Key("u"));
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->Read().ok());
  }
  EXPECT_FALSE(Has(*front_, "u"));
  EXPECT_EQ(cache_->cached_bytes(), 0u);
}

TEST_F(CacheTest, StreamedReadAboveTheFillLimitIsNotCached) {
  const std::string data = Bytes(101);
  ASSERT_TRUE(Put(*back_, "b", data).ok());
  EXPECT_EQ(*StreamGet(*cache_, "b"), data);
  EXPECT_FALSE(Has(*front_, "b"));
}

TEST_F(CacheTest, CorruptCachedCopyIsDroppedAndTheReaderServesAndRefillsFromTheBackStore) {
  const std::string data = Bytes(50);
  ASSERT_TRUE(Put(*back_, "c", data).ok());
  // The front holds other bytes under the blob's digest: its reads fail DATA_LOSS.
  ASSERT_TRUE(front_->Put(Key("c"), Bytes(49), Sha256(data)).ok());
  ASSERT_EQ(front_->Get(Key("c")).status().code(), absl::StatusCode::kDataLoss);
  auto got = StreamGet(*cache_, "c");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  EXPECT_EQ((*front_->Get(Key("c")))->data(), data);
}

TEST(CacheFillLimitTest, BlobsAboveMaxBlobBytesAreNotCachedThoughTheyFitMaxBytes) {
  auto front = std::make_unique<MemoryBlockBackend>();
  MemoryBlockBackend* front_store = front.get();
  CacheBlockBackend cache(std::move(front),
                          std::make_unique<StreamingMemoryBackend>(kPiece, kPiece),
                          CacheBlockBackendOptions{.max_bytes = 1000, .max_blob_bytes = 20});
  ASSERT_TRUE(Put(cache, "small", Bytes(20)).ok());
  ASSERT_TRUE(Put(cache, "large", Bytes(21)).ok());
  ASSERT_TRUE(StreamPut(cache, "streamed", Bytes(21), 16).ok());
  EXPECT_TRUE(Has(*front_store, "small"));
  EXPECT_FALSE(Has(*front_store, "large"));
  EXPECT_FALSE(Has(*front_store, "streamed"));
  EXPECT_EQ(cache.cached_bytes(), 20u);
}

TEST_F(CacheTest, DeleteRemovesFromBothStores) {
  ASSERT_TRUE(Put(*cache_, "d", "bytes").ok());
  ASSERT_TRUE(cache_->Delete(Key("d")).ok());
  EXPECT_FALSE(Has(*front_, "d"));
  EXPECT_FALSE(Has(*back_, "d"));
  EXPECT_EQ(cache_->cached_bytes(), 0u);
}

// Over two memory stores that stream, to see what each store's writer and reader get.
class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto first = std::make_unique<StreamingMemoryBackend>(kPiece, kPiece);
    auto second = std::make_unique<StreamingMemoryBackend>(kPiece, kPiece);
    first_ = first.get();
    second_ = second.get();
    mirror_ = std::make_unique<MirrorBlockBackend>(std::move(first), std::move(second));
  }

  StreamingMemoryBackend* first_;
  StreamingMemoryBackend* second_;
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

TEST_F(MirrorTest, StreamedPutFeedsBothStoresInPiecesAndLandsOnCommit) {
  const std::string data = Bytes(100);
  auto writer = mirror_->NewWriter(Key("k"), data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->preferred_write_bytes(), kPiece);
  EXPECT_EQ((*writer)->held_bytes(), 2 * kPiece);
  for (size_t offset = 0; offset < data.size(); offset += 16) {
    ASSERT_TRUE((*writer)->Write(data.substr(offset, 16)).ok());
  }
  EXPECT_FALSE(Has(*first_, "k") || Has(*second_, "k"));
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);
  EXPECT_EQ(first_->largest_write.load(), 16u);
  EXPECT_EQ(second_->largest_write.load(), 16u);
  EXPECT_EQ((*first_->Get(Key("k")))->data(), data);
  EXPECT_EQ((*second_->Get(Key("k")))->data(), data);
  EXPECT_EQ(*StreamPut(*mirror_, "k", data, 16), PutOutcome::kAlreadyPresent);
}

TEST_F(MirrorTest, SecondFailingMidWriteLeavesTheBlobInNeitherStore) {
  second_->fail_write = 3;
  EXPECT_EQ(StreamPut(*mirror_, "k", Bytes(100), 16).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Has(*first_, "k"));
  EXPECT_FALSE(Has(*second_, "k"));
  EXPECT_EQ(mirror_->Get(Key("k")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MirrorTest, FirstFailingMidWriteOrAtCommitLeavesTheBlobInNeitherStore) {
  first_->fail_write = 2;
  EXPECT_EQ(StreamPut(*mirror_, "k", Bytes(100), 16).status().code(),
            absl::StatusCode::kUnavailable);
  first_->fail_write = 0;
  first_->fail_commit = true;
  EXPECT_EQ(StreamPut(*mirror_, "k", Bytes(40), 16).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Has(*first_, "k"));
  EXPECT_FALSE(Has(*second_, "k"));
  EXPECT_EQ(second_->writers_abandoned.load(), 2);
}

// As Put: a put whose last step fails in SECOND is UNAVAILABLE and FIRST keeps the blob (a retry
// is idempotent; repair fills SECOND in).
TEST_F(MirrorTest, SecondFailingAtCommitIsUnavailableAndTheFirstKeepsTheBlob) {
  second_->fail_commit = true;
  EXPECT_EQ(StreamPut(*mirror_, "k", Bytes(40), 16).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Has(*first_, "k"));
  EXPECT_FALSE(Has(*second_, "k"));
  second_->fail_commit = false;
  EXPECT_EQ(*StreamPut(*mirror_, "k", Bytes(40), 16), PutOutcome::kCreated);
  EXPECT_TRUE(Has(*second_, "k"));
}

TEST_F(MirrorTest, StreamedPutWhenSecondHoldsOtherBytesIsAlreadyExistsAndRolledBack) {
  ASSERT_TRUE(Put(*second_, "k", "older bytes").ok());
  EXPECT_EQ(StreamPut(*mirror_, "k", "newer bytes", 4).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(Has(*first_, "k"));
}

TEST_F(MirrorTest, ReaderStreamsFromTheFirstAndFallsBackToTheSecond) {
  const std::string data = Bytes(100);
  ASSERT_TRUE(Put(*mirror_, "k", data).ok());
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  EXPECT_EQ(first_->windows_read.load(), 7);
  EXPECT_EQ(second_->windows_read.load(), 0);
  // Missing in FIRST: SECOND answers.
  ASSERT_TRUE(first_->Delete(Key("k")).ok());
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  EXPECT_EQ(second_->windows_read.load(), 7);
  // Corrupt in FIRST (found when its reader opens): SECOND answers.
  ASSERT_TRUE(first_->Put(Key("k"), Bytes(99), Sha256(data)).ok());
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  EXPECT_EQ(second_->windows_read.load(), 14);
  // Corrupt in FIRST and missing in SECOND: DATA_LOSS; missing in both: NOT_FOUND.
  ASSERT_TRUE(second_->Delete(Key("k")).ok());
  EXPECT_EQ(mirror_->NewReader(Key("k")).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(first_->Delete(Key("k")).ok());
  EXPECT_EQ(mirror_->NewReader(Key("k")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MirrorTest, CorruptionFoundAtTheLastWindowIsDataLossAndRetriesReadTheSecond) {
  const std::string data = Bytes(100);
  ASSERT_TRUE(Put(*mirror_, "k", data).ok());
  first_->corrupt_last_window = true;
  EXPECT_EQ(StreamGet(*mirror_, "k").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(second_->windows_read.load(), 0);
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  EXPECT_EQ(second_->windows_read.load(), 7);
  // Once FIRST reads whole again (SECOND lacking the blob), it is trusted again.
  first_->corrupt_last_window = false;
  ASSERT_TRUE(second_->Delete(Key("k")).ok());
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  ASSERT_TRUE(Put(*second_, "k", data).ok());
  const int first_windows = first_->windows_read;
  EXPECT_EQ(*StreamGet(*mirror_, "k"), data);
  EXPECT_EQ(first_->windows_read.load(), first_windows + 7);
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
