// The service streams through BlobWriter/BlobReader: a put hands the writer batches of about its
// preferred size (never the whole blob), a get sends the reader's windows as they are read, and
// a reader failing on its last window ends the stream with DATA_LOSS before the blob is complete.
// The backend here is a memory store behind a writer and reader that record what they were given.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "services/blockstore/blockstore_service.h"
#include "services/blockstore/memory_backend.h"
#include "tests/blockstore/blockstore_test_client.h"
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

class StreamingBackend : public MemoryBlockBackend {
 public:
  std::atomic<size_t> largest_write{0};
  std::atomic<int> writes{0};
  std::atomic<int> writers_abandoned{0};
  absl::Notification writer_abandoned;  // the service releases writers on its executor
  std::atomic<int> windows_read{0};
  std::atomic<bool> corrupt_last_window{false};

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key,
                                                        uint64_t /*size*/) override {
    return std::unique_ptr<BlobWriter>(new Writer(*this, key));
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key) override {
    absl::StatusOr<std::unique_ptr<Blob>> blob = Get(key);
    if (!blob.ok()) return blob.status();
    return std::unique_ptr<BlobReader>(new Reader(*this, *std::move(blob)));
  }

 private:
  class Writer : public BlobWriter {
   public:
    Writer(StreamingBackend& backend, BlobKey key) : backend_(backend), key_(std::move(key)) {}
    ~Writer() override {
      if (committed_) return;
      if (backend_.writers_abandoned.fetch_add(1) == 0) backend_.writer_abandoned.Notify();
    }
    size_t preferred_write_bytes() const override { return kBatch; }
    absl::Status Write(std::string data) override {
      backend_.writes.fetch_add(1);
      size_t seen = backend_.largest_write.load();
      while (data.size() > seen &&
             !backend_.largest_write.compare_exchange_weak(seen, data.size())) {
      }
      data_ += data;
      return absl::OkStatus();
    }
    absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override {
      committed_ = true;
      return backend_.Put(key_, data_, digest);
    }

   private:
    StreamingBackend& backend_;
    BlobKey key_;
    std::string data_;
    bool committed_ = false;
  };

  class Reader : public BlobReader {
   public:
    Reader(StreamingBackend& backend, std::unique_ptr<Blob> blob)
        : backend_(backend), blob_(std::move(blob)) {
      info_ = blob_->info();
    }
    absl::StatusOr<absl::string_view> Read() override {
      absl::string_view rest = blob_->data().substr(offset_);
      if (rest.empty()) return rest;
      absl::string_view window = rest.substr(0, kWindow);
      offset_ += window.size();
      if (offset_ == blob_->data().size() && backend_.corrupt_last_window.load()) {
        return absl::DataLossError("stored blob does not match its SHA-256");
      }
      backend_.windows_read.fetch_add(1);
      return window;
    }

   private:
    StreamingBackend& backend_;
    std::unique_ptr<Blob> blob_;
    size_t offset_ = 0;
  };
};

class BlockStoreStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BlockStoreServiceOptions options;
    options.max_blob_bytes = 64 << 20;
    // Smaller than one blob: only batches are reserved, so a big put still fits.
    options.max_inflight_put_bytes = 4 << 20;
    service_ =
        std::make_unique<BlockStoreServiceImpl>(options, backend_, executor_, metrics_.registry());
    ServerOptions server_options;
    auto server = GrpcServer::Start(server_options, {service_.get()}, metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::BlockStoreService::NewStub(
        kiln::testing::LoopbackChannel("127.0.0.1:" + std::to_string(server_->port())));
  }

  void TearDown() override { server_->Shutdown(); }

  StreamingBackend backend_;
  BoundedExecutor executor_{{.threads = 2, .max_queued = 64}};
  Metrics metrics_;
  std::unique_ptr<BlockStoreServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::BlockStoreService::Stub> stub_;
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
