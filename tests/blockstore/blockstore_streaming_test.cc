// The service streams through BlobWriter/BlobReader: a put hands the writer batches of about its
// preferred size (never the whole blob), a get sends the reader's windows as they are read, and
// a reader failing on its last window ends the stream with DATA_LOSS before the blob is complete.
// The backend here is a memory store behind a writer and reader that record what they were given
// (streaming_memory_backend.h).
#include <memory>
#include <string>

#include "common/server.h"
#include "gtest/gtest.h"
#include "services/blockstore/blockstore_service.h"
#include "tests/blockstore/blockstore_test_client.h"
#include "tests/blockstore/served_blockstore.h"
#include "tests/blockstore/streaming_memory_backend.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using testing::GetBlob;
using testing::PutBlob;
using testing::Ref;

constexpr size_t kBatch = 1 << 20;   // the writer's preferred batch
constexpr size_t kWindow = 1 << 20;  // the reader's window

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) >> 2);
  return s;
}

class BlockStoreStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServedBlockStore::Options options;
    options.service.max_blob_bytes = 64 << 20;
    // Smaller than one blob: only batches are reserved, so a big put still fits.
    options.service.max_inflight_put_bytes = 4 << 20;
    options.executor = {.threads = 2, .max_queued = 64};
    absl::Status started = served_.Start(backend_, options);
    ASSERT_TRUE(started.ok()) << started;
    stub_ = &served_.stub();
  }

  testing::StreamingMemoryBackend backend_{kBatch, kWindow};
  testing::ServedBlockStore served_;
  v1::BlockStoreService::Stub* stub_ = nullptr;
};

TEST_F(BlockStoreStreamingTest, PutHandsTheWriterBatchesOfItsPreferredSizeNotTheWholeBlob) {
  const size_t chunk = 256 << 10;
  std::string data = Pattern(16 << 20, 1);
  v1::PutResponse put;
  grpc::Status s = PutBlob(*stub_, Ref("big", v1::STORE_META), data, &put, chunk);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(put.created());
  EXPECT_LE(backend_.largest_write.load(), kBatch + chunk);
  EXPECT_GE(backend_.writes.load(), static_cast<int>(data.size() / (kBatch + chunk)));
  std::string got;
  ASSERT_TRUE(GetBlob(*stub_, Ref("big", v1::STORE_META), &got).ok());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(backend_.windows_read.load(), static_cast<int>(data.size() / kWindow));
}

TEST_F(BlockStoreStreamingTest, BrokenPutStreamAbandonsTheWriterAndStoresNothing) {
  std::string data = Pattern(4 << 20, 2);
  grpc::Status s = PutBlob(*stub_, Ref("short", v1::STORE_META), data, nullptr, 256 << 10, 8 << 20);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref("short", v1::STORE_META), &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(backend_.writer_abandoned.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(backend_.writers_abandoned.load(), 1);
}

TEST_F(BlockStoreStreamingTest, ReaderFailingOnTheLastWindowEndsTheGetWithDataLoss) {
  std::string data = Pattern(3 << 20, 3);
  ASSERT_TRUE(PutBlob(*stub_, Ref("bad", v1::STORE_META), data).ok());
  backend_.corrupt_last_window = true;
  std::string got;
  grpc::Status s = GetBlob(*stub_, Ref("bad", v1::STORE_META), &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_LT(got.size(), data.size());  // the blob never arrives whole
}

}  // namespace
}  // namespace kiln::blockstore
