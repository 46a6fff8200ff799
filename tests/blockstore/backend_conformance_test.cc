// One conformance suite for every BlockBackend implementation.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/cid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/backends.h"
#include "tests/support/s3rver.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using ::testing::ElementsAre;

std::string CarKey(absl::string_view bytes) {
  return CidForSha256(kCodecFireproofCar, bytes).ToString();
}

BlobKey Key(const std::string& key, Store store = Store::kCar, const std::string& ledger = "l1") {
  return BlobKey{{"t1", ledger}, store, key};
}

// One s3rver for the whole test binary, started on first use (tests/support/s3rver.h). Each
// test writes under its own prefix.
// The server is stopped when the test binary exits (static destruction).
kiln::testing::S3rver* SharedS3rver() {
  static absl::StatusOr<std::unique_ptr<kiln::testing::S3rver>> server = [] {
    kiln::testing::S3rver::SetCredentialsInEnvironment();
    return kiln::testing::S3rver::Start();
  }();
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? server->get() : nullptr;
}

// Replaces every `name` in `url` with `value`.
void ReplaceAll(std::string& url, const std::string& name, const std::string& value) {
  for (size_t pos = url.find(name); pos != std::string::npos; pos = url.find(name, pos)) {
    url.replace(pos, name.size(), value);
    pos += value.size();
  }
}

// Builds a backend from a URL template: "{dir}" becomes a fresh temp dir, "{s3}" an s3:// URL
// with a fresh prefix on the shared s3rver.
class BackendConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = Open();
    ASSERT_NE(backend_, nullptr);
  }

  std::unique_ptr<BlockBackend> Open() {
    std::string url = GetParam();
    ReplaceAll(url, "{dir}", dir_.path() + "/db");
    if (url.find("{s3}") != std::string::npos) {
      kiln::testing::S3rver* s3 = SharedS3rver();
      if (s3 == nullptr) return nullptr;
      static int instance = 0;
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      ReplaceAll(url, "{s3}",
                 s3->BackendUrl(absl::StrCat("conformance/", info->name(), "-", ++instance)));
    }
    auto backend = CreateBlockBackend(url);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }

  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data) {
    return backend_->Put(key, data, Sha256(data));
  }

  kiln::testing::TempDir dir_;
  std::unique_ptr<BlockBackend> backend_;
};

TEST_P(BackendConformanceTest, PutThenGetReturnsSameBytesAndDigest) {
  std::string data = "hello car bytes";
  ASSERT_EQ(*Put(Key(CarKey(data)), data), PutOutcome::kCreated);
  auto blob = backend_->Get(Key(CarKey(data)));
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), data);
  EXPECT_EQ((*blob)->info().size, data.size());
  EXPECT_EQ((*blob)->info().sha256, Sha256(data));
}

TEST_P(BackendConformanceTest, GetOfMissingBlobReturnsNotFound) {
  auto blob = backend_->Get(Key(CarKey("never stored")));
  EXPECT_EQ(blob.status().code(), absl::StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, SameKeySameBytesIsIdempotent) {
  std::string data = "same bytes";
  ASSERT_EQ(*Put(Key(CarKey(data)), data), PutOutcome::kCreated);
  auto again = Put(Key(CarKey(data)), data);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, PutOutcome::kAlreadyPresent);
}

TEST_P(BackendConformanceTest, SameKeyDifferentBytesKeepsFirstAndReturnsAlreadyExists) {
  std::string key = CarKey("first");
  ASSERT_TRUE(Put(Key(key), "first").ok());
  auto second = Put(Key(key), "second, different");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  auto blob = backend_->Get(Key(key));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ((*blob)->data(), "first");
}

TEST_P(BackendConformanceTest, EmptyBlobRoundTrips) {
  ASSERT_TRUE(Put(Key("empty", Store::kMeta), "").ok());
  auto blob = backend_->Get(Key("empty", Store::kMeta));
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), "");
}

TEST_P(BackendConformanceTest, LargeBlobRoundTrips) {
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
  ASSERT_TRUE(Put(Key(CarKey(data)), data).ok());
  auto blob = backend_->Get(Key(CarKey(data)));
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE((*blob)->data() == data);
}

// Through NewWriter in pieces and NewReader window by window (large enough for s3's multipart
// upload and ranged reads with their default sizes, and above cache(...)'s default fill limit).
TEST_P(BackendConformanceTest, WriterInPiecesAndReaderInWindowsRoundTrip) {
  std::string data(17 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string key = CarKey(data);
  auto writer = backend_->NewWriter(Key(key), data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  const size_t piece = std::max<size_t>(64 << 10, (*writer)->preferred_write_bytes());
  for (size_t offset = 0; offset < data.size(); offset += piece) {
    ASSERT_TRUE((*writer)->Write(data.substr(offset, piece)).ok());
  }
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);
  auto reader = backend_->NewReader(Key(key));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().size, data.size());
  EXPECT_EQ((*reader)->info().sha256, Sha256(data));
  absl::StatusOr<std::string> got = ReadAll(**reader);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
  EXPECT_EQ(backend_->NewReader(Key(CarKey("absent"))).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, WriterDestroyedWithoutCommitStoresNothing) {
  std::string data(17 << 20, 'w');
  const std::string key = CarKey(data);
  {
    auto writer = backend_->NewWriter(Key(key), data.size());
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(data.substr(0, 9 << 20)).ok());
  }
  EXPECT_EQ(backend_->Get(Key(key)).status().code(), absl::StatusCode::kNotFound);
  auto stats = backend_->BatchStat({"t1", "l1"}, Store::kCar, {key});
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE((*stats)[0].has_value());
}

TEST_P(BackendConformanceTest, StoresAndLedgersAreSeparateNamespaces) {
  ASSERT_TRUE(Put(Key("main", Store::kMeta, "l1"), "meta of l1").ok());
  EXPECT_EQ(backend_->Get(Key("main", Store::kWal, "l1")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(backend_->Get(Key("main", Store::kMeta, "l2")).status().code(),
            absl::StatusCode::kNotFound);
  // A tenant/ledger split that concatenates to the same string must not collide.
  ASSERT_TRUE(backend_->Put(BlobKey{{"ab", "c"}, Store::kMeta, "k"}, "x", Sha256("x")).ok());
  EXPECT_EQ(backend_->Get(BlobKey{{"a", "bc"}, Store::kMeta, "k"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, BatchStatReportsPresenceSizeAndDigestInOrder) {
  std::string a = "blob a", b = "blob bb";
  ASSERT_TRUE(Put(Key(CarKey(a)), a).ok());
  ASSERT_TRUE(Put(Key(CarKey(b)), b).ok());
  std::vector<std::string> keys = {CarKey(b), CarKey("missing"), CarKey(a)};
  auto stats = backend_->BatchStat({"t1", "l1"}, Store::kCar, keys);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 3u);
  ASSERT_TRUE((*stats)[0].has_value());
  EXPECT_EQ((*stats)[0]->size, b.size());
  EXPECT_EQ((*stats)[0]->sha256, Sha256(b));
  EXPECT_FALSE((*stats)[1].has_value());
  ASSERT_TRUE((*stats)[2].has_value());
  EXPECT_EQ((*stats)[2]->size, a.size());
}

TEST_P(BackendConformanceTest, DeleteRemovesBlobAndMissingDeleteIsNotFound) {
  std::string data = "to delete";
  ASSERT_TRUE(Put(Key(CarKey(data)), data).ok());
  EXPECT_TRUE(backend_->Delete(Key(CarKey(data))).ok());
  EXPECT_EQ(backend_->Get(Key(CarKey(data))).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend_->Delete(Key(CarKey(data))).code(), absl::StatusCode::kNotFound);
  // After a delete the key may be written again with other bytes.
  EXPECT_EQ(*Put(Key(CarKey(data)), "other"), PutOutcome::kCreated);
}

TEST_P(BackendConformanceTest, ListPagesThroughOneStoreInKeyOrder) {
  for (const char* k : {"d", "a", "c", "b", "e"}) {
    ASSERT_TRUE(Put(Key(k, Store::kMeta), std::string(k) + "!").ok());
  }
  ASSERT_TRUE(Put(Key("zz", Store::kWal), "other store").ok());
  ASSERT_TRUE(Put(Key("a", Store::kMeta, "l0"), "other ledger").ok());
  auto page1 = backend_->List({"t1", "l1"}, Store::kMeta, "", 2);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->entries.size(), 2u);
  EXPECT_EQ(page1->entries[0].key, "a");
  EXPECT_EQ(page1->entries[0].size, 2u);
  EXPECT_EQ(page1->entries[1].key, "b");
  EXPECT_TRUE(page1->more);
  auto page2 = backend_->List({"t1", "l1"}, Store::kMeta, "b", 10);
  ASSERT_TRUE(page2.ok());
  std::vector<std::string> keys;
  for (const auto& e : page2->entries) keys.push_back(e.key);
  EXPECT_THAT(keys, ElementsAre("c", "d", "e"));
  EXPECT_FALSE(page2->more);
}

TEST_P(BackendConformanceTest, ConcurrentPutsOfSameKeyStoreExactlyOne) {
  std::string key = CarKey("contended");
  std::vector<std::thread> threads;
  std::vector<absl::StatusCode> codes(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      std::string data = "writer " + std::to_string(i);
      codes[i] = backend_->Put(Key(key), data, Sha256(data)).status().code();
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, exists = 0;
  for (auto c : codes) {
    ok += c == absl::StatusCode::kOk;
    exists += c == absl::StatusCode::kAlreadyExists;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(exists, 15);
  EXPECT_TRUE(backend_->Get(Key(key)).ok());
}

// The s3:// cases run against a real s3rver (see tests/support/s3rver.h; it does not verify
// signatures, which tests/common/sigv4_test.cc proves against AWS's published vectors).
INSTANTIATE_TEST_SUITE_P(AllBackends, BackendConformanceTest,
                         ::testing::Values("memory://", "rocksdb://{dir}",
                                           "rocksdb://{dir}?sync=false", "{s3}",
                                           "cache(memory://, {s3})",
                                           "mirror(rocksdb://{dir}, {s3})",
                                           "cache(memory://, rocksdb://{dir}, max_bytes=100)",
                                           "cache(memory://, {s3}, max_blob_bytes=33554432)",
                                           "mirror({s3}, rocksdb://{dir})"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           switch (info.index) {
                             case 0:
                               return std::string("Memory");
                             case 1:
                               return std::string("RocksDb");
                             case 2:
                               return std::string("RocksDbNoSync");
                             case 3:
                               return std::string("S3");
                             case 4:
                               return std::string("CacheMemoryOverS3");
                             case 5:
                               return std::string("MirrorRocksDbAndS3");
                             case 6:
                               return std::string("TinyCacheMemoryOverRocksDb");
                             case 7:
                               return std::string("CacheMemoryOverS3FillingLargeBlobs");
                             default:
                               return std::string("MirrorS3AndRocksDb");
                           }
                         });

TEST(BlockBackendRegistryTest, UnknownSchemeIsInvalidArgumentNamingKnownSchemes) {
  auto backend = BlockBackendRegistry().Create("nosuch://bucket");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(backend.status().message()), ::testing::HasSubstr("rocksdb://"));
}

TEST(BlockBackendRegistryTest, RocksDbNeedsAbsolutePath) {
  EXPECT_EQ(BlockBackendRegistry().Create("rocksdb://relative/dir").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BlockBackendRegistryTest, MistypedParameterIsInvalidArgument) {
  kiln::testing::TempDir dir;
  auto backend = BlockBackendRegistry().Create("rocksdb://" + dir.path() + "?snyc=false");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(backend.status().message()), ::testing::HasSubstr("snyc"));
}

}  // namespace
}  // namespace kiln::blockstore
