// The kiln-blockstore binary as a child process: SIGKILL during writes, restart, verify; damaged
// bytes on disk; clean shutdown; startup errors.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/cid.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "kiln/admin/v1/admin.grpc.pb.h"
#include "tests/blockstore/blockstore_test_client.h"
#include "tests/blockstore/rocksdb_tamper.h"
#include "tests/support/admin_calls.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using kiln::testing::CreateCheckpoint;
using kiln::testing::LoopbackChannel;
using kiln::testing::ServiceProcess;
using testing::GetBlob;
using testing::ListBlobs;
using testing::PutBlob;
using testing::Ref;

std::string Binary() { return kiln::testing::BinaryPath("services/blockstore/kiln-blockstore"); }

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

class BlockStoreProcessTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServiceProcess> StartServer() {
    auto p = std::make_unique<ServiceProcess>(
        Binary(), std::vector<std::string>{"--backend=rocksdb://" + db_path_});
    absl::Status s = p->Start();
    EXPECT_TRUE(s.ok()) << s;
    return p;
  }

  kiln::testing::TempDir dir_;
  std::string db_path_ = dir_.path() + "/db";
};

TEST_F(BlockStoreProcessTest, SigkillDuringWritesKeepsEveryAcknowledgedBlobAndNoPartialOne) {
  uint64_t seed = std::random_device{}();
  LOG(INFO) << "seed " << seed;
  auto server = StartServer();
  auto channel = LoopbackChannel(server->grpc_target());
  auto stub = v1::BlockStoreService::NewStub(channel);

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> acked;      // key -> bytes
  std::map<std::string, std::string> attempted;  // every blob any writer started
  bool half_sent = false;
  std::atomic<bool> stop{false};

  // One writer sends the first half of a 16 MiB blob and then holds the stream open.
  std::mt19937_64 big_rng(seed);
  std::string big = RandomBytes(big_rng, 16 << 20);
  std::string big_key = CidForSha256(kCodecFireproofCar, big).ToString();
  std::thread half_writer([&] {
    grpc::ClientContext ctx;
    v1::PutResponse resp;
    auto writer = stub->Put(&ctx, &resp);
    v1::PutRequest req;
    *req.mutable_ref() = Ref(big_key);
    req.set_size(big.size());
    req.set_data(big.substr(0, big.size() / 2));
    bool wrote = writer->Write(req);
    {
      std::lock_guard<std::mutex> lock(mu);
      half_sent = wrote;
    }
    cv.notify_all();
    EXPECT_FALSE(writer->Finish().ok());  // the server dies before the stream ends
  });

  // Eight writers store blobs of 1 KiB to 2 MiB until the server dies.
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(seed + 1 + w);
      while (!stop.load()) {
        std::string data = RandomBytes(rng, 1024 + rng() % (2 << 20));
        std::string key = CidForSha256(kCodecFireproofCar, data).ToString();
        {
          std::lock_guard<std::mutex> lock(mu);
          attempted[key] = data;
        }
        grpc::Status s = PutBlob(*stub, Ref(key), data, nullptr, 64 << 10);
        if (!s.ok()) break;
        {
          std::lock_guard<std::mutex> lock(mu);
          acked[key] = data;
        }
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return half_sent && acked.size() >= 100; });
  }
  server->Stop(SIGKILL);
  stop = true;
  for (auto& t : writers) t.join();
  half_writer.join();
  ASSERT_GE(acked.size(), 100u);

  auto restarted = StartServer();
  auto stub2 = v1::BlockStoreService::NewStub(LoopbackChannel(restarted->grpc_target()));
  for (const auto& [key, data] : acked) {
    std::string got;
    grpc::Status s = GetBlob(*stub2, Ref(key), &got);
    ASSERT_TRUE(s.ok()) << "acknowledged blob lost: " << key << ": " << s.error_message();
    ASSERT_TRUE(got == data) << "acknowledged blob changed: " << key;
  }
  // Unacknowledged blobs are either absent or complete; the half-sent one is absent.
  for (const auto& [key, data] : attempted) {
    if (acked.count(key) != 0) continue;
    std::string got;
    grpc::Status s = GetBlob(*stub2, Ref(key), &got);
    if (s.ok()) {
      EXPECT_TRUE(got == data) << "partial blob stored for " << key;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    }
  }
  std::string got;
  EXPECT_EQ(GetBlob(*stub2, Ref(big_key), &got).error_code(), grpc::StatusCode::NOT_FOUND);
  // Every listed blob is one a writer started.
  v1::ListResponse listed;
  ASSERT_TRUE(ListBlobs(*stub2, v1::STORE_CAR, 10000, &listed).ok());
  EXPECT_GE(static_cast<size_t>(listed.blobs_size()), acked.size());
  for (const auto& blob : listed.blobs()) {
    ASSERT_EQ(attempted.count(blob.key()), 1u) << blob.key();
    EXPECT_EQ(blob.size(), attempted[blob.key()].size());
  }
}

TEST_F(BlockStoreProcessTest, DamagedBlobIsServedAsDataLossAndCounted) {
  std::string bad = "a blob whose stored bytes will rot", good = "a healthy blob";
  std::string bad_key = CidForSha256(kCodecFireproofCar, bad).ToString();
  std::string good_key = CidForSha256(kCodecFireproofCar, good).ToString();
  {
    auto server = StartServer();
    auto stub = v1::BlockStoreService::NewStub(LoopbackChannel(server->grpc_target()));
    ASSERT_TRUE(PutBlob(*stub, Ref(bad_key), bad).ok());
    ASSERT_TRUE(PutBlob(*stub, Ref(good_key), good).ok());
    int status = server->Stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  ASSERT_TRUE(
      testing::FlipStoredPayloadBit(db_path_, BlobKey{{"t1", "l1"}, Store::kCar, bad_key}, 5).ok());
  auto server = StartServer();
  auto stub = v1::BlockStoreService::NewStub(LoopbackChannel(server->grpc_target()));
  std::string got;
  grpc::Status s = GetBlob(*stub, Ref(bad_key), &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(got, "") << "damaged bytes were served";
  ASSERT_TRUE(GetBlob(*stub, Ref(good_key), &got).ok());
  EXPECT_EQ(got, good);
  std::string metrics = kiln::testing::ScrapeMetrics(server->metrics_port());
  EXPECT_EQ(kiln::testing::MetricValue(metrics, "kiln_blockstore_integrity_failures_total"), 1);
}

TEST_F(BlockStoreProcessTest, UnknownBackendSchemeExitsWithStatusTwo) {
  ServiceProcess p(Binary(), {"--backend=s3://bucket"});
  absl::Status s = p.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(s.message()).find("wait status 512"), std::string::npos) << s;
}

// Backups: a checkpoint made through kiln-admin while the service runs is an openable database
// holding every blob acknowledged before it (small and large, i.e. in RocksDB blob files) and
// nothing written after; bad requests get clear errors.
TEST_F(BlockStoreProcessTest, CheckpointThroughKilnAdminRestoresEveryBlobWrittenBefore) {
  std::string checkpoints = dir_.path() + "/checkpoints";
  ServiceProcess server(Binary(),
                        {"--backend=rocksdb://" + db_path_, "--checkpoint_dir=" + checkpoints});
  ASSERT_TRUE(server.Start().ok());
  auto stub = v1::BlockStoreService::NewStub(LoopbackChannel(server.grpc_target()));
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> before;
  for (int i = 0; i < 20; ++i) {
    std::string data = RandomBytes(rng, i == 0 ? (2 << 20) : 1000 + i);
    std::string key = CidForSha256(kCodecFireproofCar, data).ToString();
    ASSERT_TRUE(PutBlob(*stub, Ref(key), data).ok());
    before[key] = data;
  }

  // The operator's command line.
  std::string command = kiln::testing::BinaryPath("services/admin/kiln-admin") +
                        " checkpoint --target=" + server.grpc_target() + " --name=nightly 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  int status = pclose(pipe);
  ASSERT_EQ(status, 0) << output;
  EXPECT_EQ(output, checkpoints + "/nightly\n");

  std::string after_data = RandomBytes(rng, 500);
  std::string after_key = CidForSha256(kCodecFireproofCar, after_data).ToString();
  ASSERT_TRUE(PutBlob(*stub, Ref(after_key), after_data).ok());

  auto admin = admin::v1::AdminService::NewStub(LoopbackChannel(server.grpc_target()));
  EXPECT_EQ(CreateCheckpoint(*admin, "nightly").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CreateCheckpoint(*admin, "../escape").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateCheckpoint(*admin, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Restore: a second server on the checkpoint (the first keeps serving its own database).
  ServiceProcess restored(Binary(), {"--backend=rocksdb://" + checkpoints + "/nightly"});
  ASSERT_TRUE(restored.Start().ok());
  auto restored_stub = v1::BlockStoreService::NewStub(LoopbackChannel(restored.grpc_target()));
  for (const auto& [key, data] : before) {
    std::string got;
    grpc::Status s = GetBlob(*restored_stub, Ref(key), &got);
    ASSERT_TRUE(s.ok()) << key << ": " << s.error_message();
    EXPECT_EQ(got, data) << key;
  }
  std::string got;
  EXPECT_EQ(GetBlob(*restored_stub, Ref(after_key), &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Without --checkpoint_dir the service refuses and says how to enable it.
  auto no_dir = admin::v1::AdminService::NewStub(LoopbackChannel(restored.grpc_target()));
  grpc::Status refused = CreateCheckpoint(*no_dir, "x");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("--checkpoint_dir"), std::string::npos);
  // The original still serves, including the blob written after the checkpoint.
  EXPECT_TRUE(GetBlob(*stub, Ref(after_key), &got).ok());
}

}  // namespace
}  // namespace kiln::blockstore
