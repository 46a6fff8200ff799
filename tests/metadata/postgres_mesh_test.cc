// Kiln's commit path on PostgreSQL: two metadata replicas on one database, two merge instances
// (merge i talks to replica i), a block-store, all through real gRPC channels.
//  - Property: random DAGs from several writers, applied in random orders with duplicates through
//    both merges at once, end with the same heads read through either replica, every entry
//    accepted, a log that verifies, and a watcher on one replica that saw every version once.
//  - Faults: the PostgreSQL server stopped (fast, then immediate) during a stream of commits:
//    commits fail with UNAVAILABLE while it is down, nothing acknowledged is lost, commits resume
//    after the restart with no intervention, and a watcher resumes without gaps.
#include <signal.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/cid.h"
#include "common/hash_chain.h"
#include "common/meta_entry_proto.h"
#include "common/meta_event.h"
#include "common/sha256.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/blockstore_service.h"
#include "services/blockstore/memory_backend.h"
#include "services/merge/grpc_peers.h"
#include "services/merge/merge_service.h"
#include "tests/integration/merge_instance.h"
#include "tests/integration/random_dag.h"
#include "tests/metadata/replica.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using kiln::testing::LoopbackChannel;
using kiln::testing::PostgresServer;
using ::testing::UnorderedElementsAreArray;

class PostgresMesh {
 public:
  // Two in-process metadata replicas on `url`; merge i talks to replica i.
  explicit PostgresMesh(const std::string& url) {
    StartBlockStore();
    for (int i = 0; i < 2; ++i) {
      replicas_.push_back(std::make_unique<MetadataReplica>(url, absl::Milliseconds(100)));
      stubs_.push_back(v1::MetadataService::NewStub(LoopbackChannel(replicas_[i]->target())));
    }
    for (int i = 0; i < 2; ++i) AddMerge(replicas_[i]->target());
  }

  // Metadata replicas running elsewhere (processes) at `targets`; one merge balancing over all.
  explicit PostgresMesh(const std::vector<std::string>& targets) {
    StartBlockStore();
    for (const auto& t : targets)
      stubs_.push_back(v1::MetadataService::NewStub(LoopbackChannel(t)));
    std::string all = "ipv4:";
    for (size_t i = 0; i < targets.size(); ++i) absl::StrAppend(&all, i > 0 ? "," : "", targets[i]);
    AddMerge(all);
  }

  ~PostgresMesh() {
    for (auto& m : merges_) m->Shutdown();
    replicas_.clear();
    blockstore_server_->Shutdown();
  }

  merge::v1::MergeService::Stub& merge(int i) { return merges_[i]->stub(); }
  v1::MetadataService::Stub& metadata(int i) { return *stubs_[i]; }

  // A CAR of (t1, ledger) in the block-store.
  Cid StoreCar(const std::string& ledger, const std::string& bytes) {
    Cid car = CidForSha256(kCodecFireproofCar, bytes);
    EXPECT_TRUE(
        blocks_.Put({{"t1", ledger}, blockstore::Store::kCar, car.ToString()}, bytes, Sha256(bytes))
            .ok());
    return car;
  }

  grpc::Status Put(int merge, const std::string& ledger, const std::string& writer,
                   const EncodedMetaEntry& entry) {
    merge::v1::PutMetaRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_writer(writer);
    *r.add_entries() = ToProto(entry);
    r.add_keys("zKey-" + writer);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    merge::v1::PutMetaResponse resp;
    return merges_[merge]->stub().PutMeta(&ctx, r, &resp);
  }

  // The ledger as replica `i` serves it, probing `cids`.
  v1::GetLedgerResponse Ledger(int i, const std::string& ledger,
                               const std::vector<std::string>& cids) {
    grpc::ClientContext ctx;
    v1::GetLedgerRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_include_entries(true);
    for (const auto& c : cids) r.add_probe_cids(c);
    v1::GetLedgerResponse resp;
    grpc::Status s = stubs_[i]->GetLedger(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // OK when the whole log of `ledger`, read through replica `i`, verifies.
  absl::Status VerifyLog(int i, const std::string& ledger) {
    std::vector<v1::ReadLogResponse> pages;
    std::vector<ChainLink> links;
    std::string head;
    for (uint64_t from = 1;;) {
      grpc::ClientContext ctx;
      v1::ReadLogRequest r;
      r.set_tenant("t1");
      r.set_ledger(ledger);
      r.set_from_seq(from);
      r.set_limit(1000);
      v1::ReadLogResponse& page = pages.emplace_back();
      grpc::Status s = stubs_[i]->ReadLog(&ctx, r, &page);
      if (!s.ok()) return absl::InternalError(s.error_message());
      head = page.head_sha256();
      if (page.records_size() == 0) break;
      from = page.records(page.records_size() - 1).seq() + 1;
    }
    for (const auto& page : pages) {
      for (int k = 0; k < page.records_size(); ++k) {
        links.push_back(
            {page.records(k).seq(), page.records(k).prev_sha256(), page.raw_records(k)});
      }
    }
    return VerifyHashChain(links, "", head);
  }

 private:
  void StartBlockStore() {
    blockstore_ = std::make_unique<blockstore::BlockStoreServiceImpl>(
        blockstore::BlockStoreServiceOptions{}, blocks_, executor_, blockstore_metrics_.registry());
    blockstore_server_ =
        *GrpcServer::Start(ServerOptions{}, {blockstore_.get()}, blockstore_metrics_);
  }

  // A merge whose metadata target is `metadata` (one address or an ipv4: list, balanced).
  void AddMerge(const std::string& metadata) {
    auto channels = ShardedChannels::Create(metadata, "metadata_target");
    EXPECT_TRUE(channels.ok()) << channels.status();
    merges_.push_back(std::make_unique<kiln::testing::MergeInstance>(
        LoopbackChannel("127.0.0.1:" + std::to_string(blockstore_server_->port())), *channels));
  }

  BoundedExecutor executor_{{.threads = 4, .max_queued = 4096}};
  blockstore::MemoryBlockBackend blocks_;
  Metrics blockstore_metrics_;
  std::unique_ptr<blockstore::BlockStoreServiceImpl> blockstore_;
  std::unique_ptr<GrpcServer> blockstore_server_;
  std::vector<std::unique_ptr<MetadataReplica>> replicas_;
  std::vector<std::unique_ptr<v1::MetadataService::Stub>> stubs_;
  std::vector<std::unique_ptr<kiln::testing::MergeInstance>> merges_;
};

// Collects the versions a Watch stream delivers, on its own thread.
class VersionCollector {
 public:
  VersionCollector(v1::MetadataService::Stub& stub, const std::string& ledger) {
    v1::WatchRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    reader_ = stub.Watch(&ctx_, r);
    thread_ = std::thread([this] {
      v1::WatchEvent event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        if (!event.snapshot()) versions_.push_back(event.version());
        last_ = event.version();
        started_ = true;
      }
    });
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&started_));  // the snapshot arrived: the stream is live
  }
  ~VersionCollector() {
    ctx_.TryCancel();
    thread_.join();
  }
  // Waits until version `v` arrived (or the stream ended) and returns every version seen.
  std::vector<uint64_t> Until(uint64_t v) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return last_ >= v; };
    mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(60));  // a hang guard only
    return versions_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> versions_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

std::vector<uint64_t> OneTo(uint64_t n) {
  std::vector<uint64_t> out;
  for (uint64_t v = 1; v <= n; ++v) out.push_back(v);
  return out;
}

std::string NewDatabaseUrl() {
  auto db = PostgresServer::Shared().CreateDatabase();
  EXPECT_TRUE(db.ok()) << db.status();
  return PostgresServer::Shared().Url(db.ok() ? *db : "", "statement_timeout_ms=3000");
}

TEST(PostgresMeshTest, RandomDagsThroughTwoMergesAndTwoReplicasConverge) {
  PostgresMesh mesh(NewDatabaseUrl());
  uint64_t base_seed = std::random_device{}();
  LOG(INFO) << "property test seed " << base_seed;
  for (int round = 0; round < 3; ++round) {
    std::mt19937_64 rng(base_seed + round);
    const std::string ledger = "prop-" + std::to_string(round);
    VersionCollector watcher(mesh.metadata(1), ledger);
    // Each writer extends its own view, sometimes merging another writer's entry.
    const std::vector<EncodedMetaEntry> nodes = kiln::testing::RandomWriterDag(rng, 40, [&](int i) {
      return mesh.StoreCar(ledger, ledger + " car " + std::to_string(i));
    });
    const kiln::testing::DagCids dag = kiln::testing::CidsOf(nodes);
    // A shuffle plus duplicates, split over the two merges (and so the two replicas).
    const std::vector<std::vector<int>> lanes =
        kiln::testing::ArrivalLanes(rng, static_cast<int>(nodes.size()), 10, 2);
    std::vector<std::thread> threads;
    for (int lane = 0; lane < 2; ++lane) {
      threads.emplace_back([&, lane] {
        for (int idx : lanes[lane]) {
          grpc::Status s = mesh.Put(lane, ledger, "lane" + std::to_string(lane), nodes[idx]);
          EXPECT_TRUE(s.ok()) << "seed " << base_seed + round << ": " << s.error_message();
        }
      });
    }
    for (auto& t : threads) t.join();
    const std::vector<std::string>& cids = dag.all;
    auto via0 = mesh.Ledger(0, ledger, cids);
    auto via1 = mesh.Ledger(1, ledger, cids);
    EXPECT_THAT(via0.state().heads(), UnorderedElementsAreArray(dag.heads))
        << "seed " << base_seed + round;
    EXPECT_THAT(via1.state().heads(), UnorderedElementsAreArray(dag.heads))
        << "seed " << base_seed + round;
    EXPECT_EQ(via0.state().version(), via1.state().version());
    for (const auto& probe : via1.probes()) {
      EXPECT_TRUE(probe.accepted()) << "seed " << base_seed + round << " lost " << probe.cid();
    }
    EXPECT_TRUE(mesh.VerifyLog(1, ledger).ok()) << mesh.VerifyLog(1, ledger);
    EXPECT_EQ(watcher.Until(via0.state().version()), OneTo(via0.state().version()))
        << "seed " << base_seed + round;
  }
}

// Commits one chain through merge 0 until stopped, recording what was acknowledged and how the
// others failed.
class Writer {
 public:
  Writer(PostgresMesh& mesh, const std::string& ledger) : mesh_(mesh), ledger_(ledger) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  // Waits (a hang guard of 60 s) until `n` puts were acknowledged / failed.
  void AwaitAcked(size_t n) {
    Await([&] { return acked_.size() >= n; });
  }
  void AwaitFailed(size_t n) {
    Await([&] { return failures_.size() >= n; });
  }
  size_t acked() {
    absl::MutexLock lock(&mu_);
    return acked_.size();
  }
  size_t failed() {
    absl::MutexLock lock(&mu_);
    return failures_.size();
  }
  std::vector<std::string> acked_cids() {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  std::vector<grpc::StatusCode> failures() {
    absl::MutexLock lock(&mu_);
    return failures_;
  }

 private:
  template <typename F>
  void Await(F done) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done(); };
    mu_.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(60));
  }
  void Run() {
    std::string parent;
    for (int i = 0;; ++i) {
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
      }
      Cid car = mesh_.StoreCar(ledger_, "fault car " + std::to_string(i));
      std::vector<Cid> parents;
      if (!parent.empty()) parents.push_back(*ParseCid(parent));
      EncodedMetaEntry e = EncodeMetaEntry({car}, parents);
      grpc::Status s = mesh_.Put(0, ledger_, "w", e);
      absl::MutexLock lock(&mu_);
      if (s.ok()) {
        acked_.push_back(e.cid);
        parent = e.cid;
      } else {
        failures_.push_back(s.error_code());
      }
    }
  }
  PostgresMesh& mesh_;
  const std::string ledger_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc::StatusCode> failures_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// After a fault: every failure the writer saw was UNAVAILABLE, every acknowledged entry is
// accepted (read through replica `i`), the log verifies, and the watcher saw versions 1..N once.
void ExpectNothingLost(PostgresMesh& mesh, int i, const std::string& ledger, Writer& writer,
                       VersionCollector& watcher) {
  for (grpc::StatusCode code : writer.failures()) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  }
  std::vector<std::string> acked = writer.acked_cids();
  auto state = mesh.Ledger(i, ledger, acked);
  ASSERT_EQ(state.probes_size(), static_cast<int>(acked.size()));
  for (const auto& probe : state.probes()) {
    EXPECT_TRUE(probe.accepted()) << "acknowledged entry " << probe.cid() << " was lost";
  }
  EXPECT_TRUE(mesh.VerifyLog(i, ledger).ok()) << mesh.VerifyLog(i, ledger);
  const uint64_t version = state.state().version();
  EXPECT_GE(version, acked.size());
  EXPECT_EQ(watcher.Until(version), OneTo(version)) << "the watcher skipped or repeated versions";
}

TEST(PostgresMeshTest, DatabaseStoppedDuringCommitsLosesNothingAcknowledgedAndRecovers) {
  PostgresServer& server = PostgresServer::Shared();
  PostgresMesh mesh(NewDatabaseUrl());
  const std::string ledger = "faults";
  VersionCollector watcher(mesh.metadata(1), ledger);
  Writer writer(mesh, ledger);
  writer.AwaitAcked(10);
  for (const char* mode : {"fast", "immediate"}) {
    SCOPED_TRACE(mode);
    ASSERT_TRUE(server.Stop(mode).ok());
    size_t failed = writer.failed();
    writer.AwaitFailed(failed + 3);
    ASSERT_GE(writer.failed(), failed + 3) << "commits kept succeeding with the database down";
    ASSERT_TRUE(server.Restart().ok());
    size_t acked = writer.acked();
    writer.AwaitAcked(acked + 10);
    ASSERT_GE(writer.acked(), acked + 10) << "commits did not resume after the restart";
  }
  writer.Stop();
  ExpectNothingLost(mesh, 1, ledger, writer, watcher);
}

// Sum of grpc_server_handled_total over the metadata service's methods in a /metrics body.
double HandledMetadataCalls(const std::string& body) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, "grpc_server_handled_total{") ||
        !absl::StrContains(line, "kiln.metadata.v1.MetadataService")) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

// Two kiln-metadata processes on one database behind one merge that balances over both: one is
// SIGKILLed during a stream of commits; the other keeps serving, every acknowledged commit is
// there, and a watcher on the survivor saw every version once.
TEST(PostgresMeshTest, OneReplicaKilledUnderLoadTheOtherKeepsServing) {
  const std::string url = NewDatabaseUrl();
  std::vector<std::unique_ptr<kiln::testing::ServiceProcess>> procs;
  std::vector<std::string> targets;
  for (int i = 0; i < 2; ++i) {
    procs.push_back(std::make_unique<kiln::testing::ServiceProcess>(
        kiln::testing::BinaryPath("services/metadata/kiln-metadata"),
        std::vector<std::string>{"--backend=" + url, "--insecure_dev_kek",
                                 "--watch_poll_interval=100ms"}));
    ASSERT_TRUE(procs.back()->Start().ok());
    targets.push_back(procs.back()->grpc_target());
  }
  PostgresMesh mesh(targets);
  const std::string ledger = "kill";
  VersionCollector watcher(mesh.metadata(1), ledger);
  Writer writer(mesh, ledger);
  writer.AwaitAcked(20);
  // Merge balances over both replicas: each has answered metadata calls by now.
  for (auto& p : procs) {
    EXPECT_GT(HandledMetadataCalls(kiln::testing::ScrapeMetrics(p->metrics_port())), 0);
  }
  procs[0]->Stop(SIGKILL);
  size_t acked = writer.acked();
  writer.AwaitAcked(acked + 20);
  ASSERT_GE(writer.acked(), acked + 20) << "commits stopped with one replica gone";
  writer.Stop();
  ExpectNothingLost(mesh, 1, ledger, writer, watcher);
}

}  // namespace
}  // namespace kiln::metadata
