// kiln-metadata as a child process: SIGKILL during a stream of commits, restart, and the log
// still verifies; a byte flipped in a stored log record is named by the verifier.
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/hash_chain.h"
#include "common/sha256.h"
#include "common/varint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kiln/admin/v1/admin.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "rocksdb/db.h"
#include "tests/support/admin_calls.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using kiln::testing::LoopbackChannel;
using kiln::testing::ServiceProcess;

class MetadataProcessTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServiceProcess> Start() {
    auto p = std::make_unique<ServiceProcess>(
        kiln::testing::BinaryPath("services/metadata/kiln-metadata"),
        std::vector<std::string>{"--backend=rocksdb://" + db_, "--insecure_dev_kek"});
    absl::Status s = p->Start();
    EXPECT_TRUE(s.ok()) << s;
    return p;
  }

  // Reads the whole log of `ledger` and verifies its chain.
  absl::Status VerifyLedger(v1::MetadataService::Stub& stub, const std::string& ledger,
                            uint64_t* records) {
    grpc::ClientContext ctx;
    v1::ReadLogRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_from_seq(1);
    r.set_limit(1000);
    v1::ReadLogResponse log;
    grpc::Status s = stub.ReadLog(&ctx, r, &log);
    if (!s.ok()) return absl::InternalError(s.error_message());
    std::vector<ChainLink> links;
    for (int i = 0; i < log.records_size(); ++i) {
      links.push_back({log.records(i).seq(), log.records(i).prev_sha256(), log.raw_records(i)});
    }
    *records = links.size();
    return VerifyHashChain(links, "", log.head_sha256());
  }

  // Commit number `v` of a one-writer chain on `ledger`: entry e<v> with parent e<v-1>, the new
  // head, and `keys`.
  static v1::CommitRequest ChainCommit(const std::string& ledger, uint64_t v,
                                       const std::vector<std::string>& keys = {}) {
    v1::CommitRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.add_writers("w");
    r.set_expected_version(v);
    auto* e = r.add_entries();
    e->set_cid("e" + std::to_string(v));
    e->set_data("data");
    if (v > 0) e->add_parents("e" + std::to_string(v - 1));
    r.add_heads(e->cid());
    for (const auto& k : keys) r.add_keys(k);
    return r;
  }

  // GetLedger of (t1, ledger) with entries and keys.
  static grpc::Status ReadLedger(v1::MetadataService::Stub& stub, const std::string& ledger,
                                 v1::GetLedgerResponse* state) {
    grpc::ClientContext ctx;
    v1::GetLedgerRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_include_entries(true);
    return stub.GetLedger(&ctx, r, state);
  }

  kiln::testing::TempDir dir_;
  std::string db_ = dir_.path() + "/db";
};

TEST_F(MetadataProcessTest, SigkillDuringCommitsKeepsEveryAcknowledgedCommitAndAValidLog) {
  auto server = Start();
  auto stub = v1::MetadataService::NewStub(LoopbackChannel(server->grpc_target()));
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, uint64_t> acked;  // ledger -> highest acknowledged version
  int total = 0;
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      std::string ledger = "l" + std::to_string(w);
      for (uint64_t v = 0;; ++v) {
        v1::CommitRequest r = ChainCommit(ledger, v);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::CommitResponse resp;
        if (!stub->Commit(&ctx, r, &resp).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        acked[ledger] = resp.version();
        ++total;
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return total >= 400; });
  }
  server->Stop(SIGKILL);
  for (auto& t : writers) t.join();

  auto restarted = Start();
  auto stub2 = v1::MetadataService::NewStub(LoopbackChannel(restarted->grpc_target()));
  for (const auto& [ledger, version] : acked) {
    grpc::ClientContext ctx;
    v1::GetLedgerRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    for (uint64_t v = 0; v < version; ++v) r.add_probe_cids("e" + std::to_string(v));
    v1::GetLedgerResponse state;
    ASSERT_TRUE(stub2->GetLedger(&ctx, r, &state).ok());
    EXPECT_GE(state.state().version(), version) << ledger << " lost acknowledged commits";
    for (const auto& probe : state.probes()) {
      EXPECT_TRUE(probe.accepted()) << ledger << " lost " << probe.cid();
    }
    uint64_t records = 0;
    absl::Status verified = VerifyLedger(*stub2, ledger, &records);
    EXPECT_TRUE(verified.ok()) << verified;
    EXPECT_EQ(records, state.state().version());
  }
}

TEST_F(MetadataProcessTest, FlippedByteInALogRecordIsNamedByTheVerifier) {
  {
    auto server = Start();
    auto stub = v1::MetadataService::NewStub(LoopbackChannel(server->grpc_target()));
    for (uint64_t v = 0; v < 6; ++v) {
      v1::CommitRequest r;
      r.set_tenant("t1");
      r.set_ledger("l1");
      r.add_writers("writer-" + std::to_string(v));
      r.set_expected_version(v);
      auto* e = r.add_entries();
      e->set_cid("e" + std::to_string(v));
      e->set_data("data");
      r.add_heads(e->cid());
      grpc::ClientContext ctx;
      v1::CommitResponse resp;
      ASSERT_TRUE(stub->Commit(&ctx, r, &resp).ok());
    }
    server->Stop(SIGTERM);
  }
  // Flip one byte of record 4 (inside its writer id) directly in RocksDB.
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), db_, &db).ok());
    std::string key = "G";
    AppendUvarint(&key, 2);
    key += "t1";
    AppendUvarint(&key, 2);
    key += "l1";
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((4ull >> (8 * i)) & 0xff));
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &value).ok());
    size_t pos = value.find("writer-3");
    ASSERT_NE(pos, std::string::npos);
    value[pos + 7] = '7';
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
    delete db;
  }
  auto server = Start();
  auto stub = v1::MetadataService::NewStub(LoopbackChannel(server->grpc_target()));
  uint64_t records = 0;
  absl::Status s = VerifyLedger(*stub, "l1", &records);
  EXPECT_EQ(records, 6u);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("log record 4 "));
}

TEST_F(MetadataProcessTest, RefusesToStartWithoutAKeyEncryptionKey) {
  ServiceProcess p(kiln::testing::BinaryPath("services/metadata/kiln-metadata"),
                   {"--backend=memory://", "--kek_env=KILN_TEST_UNSET_KEK"});
  absl::Status s = p.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("wait status 512"));
}

// A checkpoint taken while kiln-metadata runs restores the ledger as it was: every commit before
// it, with a log that verifies, and none after; the gossiped keys are still sealed and readable.
TEST_F(MetadataProcessTest, CheckpointRestoresTheLedgerAsOfTheCheckpoint) {
  std::string checkpoints = dir_.path() + "/checkpoints";
  ServiceProcess server(
      kiln::testing::BinaryPath("services/metadata/kiln-metadata"),
      {"--backend=rocksdb://" + db_, "--insecure_dev_kek", "--checkpoint_dir=" + checkpoints});
  ASSERT_TRUE(server.Start().ok());
  auto stub = v1::MetadataService::NewStub(LoopbackChannel(server.grpc_target()));
  auto commit = [&](uint64_t v) {
    grpc::ClientContext ctx;
    v1::CommitResponse resp;
    grpc::Status s =
        stub->Commit(&ctx, ChainCommit("backed-up", v, {"zKey" + std::to_string(v)}), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  for (uint64_t v = 0; v < 10; ++v) commit(v);
  // Engine health is exported next to the service's own metrics: ten durable commits, ten syncs.
  std::string scraped = kiln::testing::ScrapeMetrics(server.metrics_port());
  EXPECT_GE(kiln::testing::MetricValue(scraped, "kiln_metadata_rocksdb_wal_syncs_total"), 10)
      << scraped;
  EXPECT_EQ(kiln::testing::MetricValue(scraped, "kiln_metadata_rocksdb_write_stopped"), 0);
  auto admin = admin::v1::AdminService::NewStub(LoopbackChannel(server.grpc_target()));
  {
    admin::v1::CreateCheckpointResponse resp;
    grpc::Status s = kiln::testing::CreateCheckpoint(*admin, "cp", &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.path(), checkpoints + "/cp");
  }
  commit(10);

  ServiceProcess restored(kiln::testing::BinaryPath("services/metadata/kiln-metadata"),
                          {"--backend=rocksdb://" + checkpoints + "/cp", "--insecure_dev_kek"});
  ASSERT_TRUE(restored.Start().ok());
  auto stub2 = v1::MetadataService::NewStub(LoopbackChannel(restored.grpc_target()));
  v1::GetLedgerResponse state;
  ASSERT_TRUE(ReadLedger(*stub2, "backed-up", &state).ok());
  EXPECT_EQ(state.state().version(), 10u);
  EXPECT_THAT(state.state().heads(), ::testing::ElementsAre("e9"));
  EXPECT_EQ(state.state().keys_size(), 10);
  uint64_t records = 0;
  absl::Status verified = VerifyLedger(*stub2, "backed-up", &records);
  EXPECT_TRUE(verified.ok()) << verified;
  EXPECT_EQ(records, 10u);
}

// KEK rotation with the real binary: keys committed under KEK A are served after a restart with
// KEK B and --previous_kek_files=A (which re-seals them), and then with KEK B alone.
TEST_F(MetadataProcessTest, KekRotationReSealsKeysSoTheOldKekCanBeDropped) {
  auto write_kek = [&](const std::string& name, char fill) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << kiln::HexEncode(std::string(32, fill)) << "\n";
    return path;
  };
  std::string kek_a = write_kek("kek-a", 'a'), kek_b = write_kek("kek-b", 'b');
  auto start = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--backend=rocksdb://" + db_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<ServiceProcess>(
        kiln::testing::BinaryPath("services/metadata/kiln-metadata"), args);
    absl::Status s = p->Start();
    EXPECT_TRUE(s.ok()) << s;
    return p;
  };
  auto keys_of = [](ServiceProcess& server) {
    auto stub = v1::MetadataService::NewStub(LoopbackChannel(server.grpc_target()));
    v1::GetLedgerResponse state;
    grpc::Status s = ReadLedger(*stub, "rotated", &state);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return std::vector<std::string>(state.state().keys().begin(), state.state().keys().end());
  };
  {
    auto server = start({"--kek_file=" + kek_a});
    auto stub = v1::MetadataService::NewStub(LoopbackChannel(server->grpc_target()));
    grpc::ClientContext ctx;
    v1::CommitResponse resp;
    ASSERT_TRUE(stub->Commit(&ctx, ChainCommit("rotated", 0, {"zKeyOne", "zKeyTwo"}), &resp).ok());
    server->Stop(SIGTERM);
  }
  {
    auto server = start({"--kek_file=" + kek_b, "--previous_kek_files=" + kek_a});
    EXPECT_THAT(keys_of(*server), ::testing::UnorderedElementsAre("zKeyOne", "zKeyTwo"));
    server->Stop(SIGTERM);
  }
  {
    auto server = start({"--kek_file=" + kek_b});
    EXPECT_THAT(keys_of(*server), ::testing::UnorderedElementsAre("zKeyOne", "zKeyTwo"));
    server->Stop(SIGTERM);
  }
  // And KEK A alone no longer opens them: GetLedger fails with DATA_LOSS.
  auto old_only = start({"--kek_file=" + kek_a});
  auto stub = v1::MetadataService::NewStub(LoopbackChannel(old_only->grpc_target()));
  v1::GetLedgerResponse state;
  EXPECT_EQ(ReadLedger(*stub, "rotated", &state).error_code(), grpc::StatusCode::DATA_LOSS);
}

}  // namespace
}  // namespace kiln::metadata
