// kiln-meta-load: load generator for merge -> metadata with real Fireproof meta entries. A
// benchmark, not a test: it reports figures and never asserts on them.
//
//   --mode=commits  --writers closed-loop threads commit over --ledgers ledgers through merge
//                   for --duration. Each writer first uploads its own CAR per ledger to the
//                   block-store, then puts one dag-cbor event per call whose parents are the heads
//                   the previous response returned (as a Fireproof client does).
//   --mode=watch    --watchers Watch streams on one ledger (metadata, callback API), then one
//                   writer commits --commits entries through merge, one every --interval; reports
//                   the delay from each put's acknowledgement to each watcher's receipt.
//
// Prints one line of key=value pairs. Exits 1 when any call failed, 2 on bad flags.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/cid.h"
#include "common/meta_entry_proto.h"
#include "common/meta_event.h"
#include "common/sha256.h"
#include "common/shards.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/merge/v1/merge.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

ABSL_FLAG(std::string, mode, "commits", "commits or watch.");
ABSL_FLAG(std::string, merge_target, "127.0.0.1:7103", "Merge gRPC address.");
ABSL_FLAG(std::string, metadata_target, "127.0.0.1:7102", "Metadata gRPC address (watch mode).");
ABSL_FLAG(std::string, blockstore_target, "127.0.0.1:7101",
          "Block-store gRPC address, or a shard list a,b,... as merge takes it.");
ABSL_FLAG(int, writers, 64, "Concurrent writers (commits mode).");
ABSL_FLAG(int, ledgers, 16, "Ledgers the writers are spread over (commits mode).");
ABSL_FLAG(int, channels, 4, "gRPC channels to merge, shared round-robin by the writers.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to commit (commits mode).");
ABSL_FLAG(int, watchers, 1000, "Watch streams on the ledger (watch mode).");
ABSL_FLAG(int, commits, 200, "Commits to time (watch mode).");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(20),
          "Time between the starts of two commits (watch mode): 10ms is 100 commits/s.");
ABSL_FLAG(std::string, tenant, "bench", "Tenant id.");
ABSL_FLAG(std::string, run_id, "", "Suffix for ledger names, so runs do not share ledgers.");

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;
namespace mv1 = ::kiln::merge::v1;
namespace dv1 = ::kiln::metadata::v1;
namespace bv1 = ::kiln::blockstore::v1;

std::shared_ptr<grpc::Channel> Channel(const std::string& target, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetInt("kiln.channel_index", index);  // distinct args => distinct connections
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// The block-store shards (--blockstore_target), routed as merge routes them; nullptr on a bad list.
std::unique_ptr<kiln::ShardedStubs<bv1::BlockStoreService>> BlockStores() {
  auto channels =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target");
  if (!channels.ok()) {
    std::fprintf(stderr, "%s\n", std::string(channels.status().message()).c_str());
    return nullptr;
  }
  return std::make_unique<kiln::ShardedStubs<bv1::BlockStoreService>>(*channels);
}

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(30);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Uploads `bytes` as a CAR of (tenant, ledger); returns its CID.
bool UploadCar(bv1::BlockStoreService::Stub& stub, const std::string& tenant,
               const std::string& ledger, const std::string& bytes, Cid* cid) {
  *cid = CidForSha256(kCodecFireproofCar, bytes);
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  bv1::PutResponse resp;
  auto writer = stub.Put(&ctx, &resp);
  bv1::PutRequest req;
  req.mutable_ref()->set_tenant(tenant);
  req.mutable_ref()->set_ledger(ledger);
  req.mutable_ref()->set_store(bv1::STORE_CAR);
  req.mutable_ref()->set_key(cid->ToString());
  req.set_size(bytes.size());
  req.set_data(bytes);
  writer->Write(req);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) std::fprintf(stderr, "car upload failed: %s\n", s.error_message().c_str());
  return s.ok();
}

// One commit through merge: an event naming `car` on top of `heads`; updates `heads`.
grpc::Status PutMeta(mv1::MergeService::Stub& stub, const std::string& tenant,
                     const std::string& ledger, const std::string& writer, const Cid& car,
                     std::vector<std::string>* heads, uint64_t* version) {
  std::vector<Cid> parents;
  for (const auto& h : *heads) parents.push_back(*ParseCid(h));
  EncodedMetaEntry e = EncodeMetaEntry({car}, parents);
  mv1::PutMetaRequest r;
  r.set_tenant(tenant);
  r.set_ledger(ledger);
  r.set_writer(writer);
  *r.add_entries() = ToProto(e);
  r.add_keys("z" + writer);
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  mv1::PutMetaResponse resp;
  grpc::Status s = stub.PutMeta(&ctx, r, &resp);
  if (s.ok()) {
    heads->assign(resp.heads().begin(), resp.heads().end());
    if (version != nullptr) *version = resp.version();
  }
  return s;
}

int RunCommits() {
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  const int writers = absl::GetFlag(FLAGS_writers);
  const int ledgers = absl::GetFlag(FLAGS_ledgers);
  const int nchannels = std::max(1, absl::GetFlag(FLAGS_channels));
  const std::string run = absl::GetFlag(FLAGS_run_id);
  std::vector<std::unique_ptr<mv1::MergeService::Stub>> merges;
  for (int i = 0; i < nchannels; ++i) {
    merges.push_back(mv1::MergeService::NewStub(Channel(absl::GetFlag(FLAGS_merge_target), i)));
  }
  auto blocks = BlockStores();
  if (blocks == nullptr) return 2;
  std::vector<Cid> cars;
  for (int w = 0; w < writers; ++w) {
    Cid cid = CidForSha256(kCodecFireproofCar, "");
    std::string ledger = absl::StrCat("ledger-", w % ledgers, run);
    if (!UploadCar(*blocks->For(kiln::LedgerRef(tenant, ledger)), tenant, ledger,
                   absl::StrCat("car of writer ", w, run), &cid)) {
      return 1;
    }
    cars.push_back(cid);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<double>> latencies(writers);
  std::vector<std::thread> threads;
  absl::Notification go;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::string ledger = absl::StrCat("ledger-", w % ledgers, run);
      std::string writer = absl::StrCat("writer-", w);
      std::vector<std::string> heads;
      go.WaitForNotification();
      while (!stop.load(std::memory_order_relaxed)) {
        auto start = Clock::now();
        grpc::Status s =
            PutMeta(*merges[w % nchannels], tenant, ledger, writer, cars[w], &heads, nullptr);
        if (!s.ok()) {
          if (errors.fetch_add(1) < 5) {
            std::fprintf(stderr, "put failed: %d %s\n", s.error_code(), s.error_message().c_str());
          }
          continue;
        }
        latencies[w].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
    });
  }
  auto start = Clock::now();
  go.Notify();
  std::this_thread::sleep_for(absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_duration)));
  stop = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  size_t ops = all.size();
  double p50 = Percentile(all, 0.50), p99 = Percentile(all, 0.99);
  std::printf(
      "mode=commits writers=%d ledgers=%d channels=%d commits=%zu secs=%.2f commits_per_sec=%.1f "
      "p50_ms=%.2f p99_ms=%.2f errors=%llu\n",
      writers, ledgers, nchannels, ops, secs, static_cast<double>(ops) / secs, p50, p99,
      static_cast<unsigned long long>(errors.load()));
  return errors.load() == 0 ? 0 : 1;
}

// One Watch stream that timestamps every event it receives, keyed by version.
class Watcher : public grpc::ClientReadReactor<dv1::WatchEvent> {
 public:
  Watcher(dv1::MetadataService::Stub& stub, const std::string& tenant, const std::string& ledger,
          std::atomic<int>* ready)
      : ready_(ready) {
    request_.set_tenant(tenant);
    request_.set_ledger(ledger);
    stub.async()->Watch(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    auto now = Clock::now();
    {
      absl::MutexLock lock(&mu_);
      if (event_.snapshot()) {
        ready_->fetch_add(1);
      } else {
        received_[event_.version()] = now;
      }
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& s) override {
    absl::MutexLock lock(&mu_);
    status_ = s;
    done_ = true;
  }
  void Cancel() { context_.TryCancel(); }
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }
  std::map<uint64_t, Clock::time_point> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  grpc::ClientContext context_;
  dv1::WatchRequest request_;
  dv1::WatchEvent event_;
  std::atomic<int>* ready_;
  absl::Mutex mu_;
  std::map<uint64_t, Clock::time_point> received_;
  grpc::Status status_;
  bool done_ = false;
};

int RunWatch() {
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  const std::string ledger = "watched" + absl::GetFlag(FLAGS_run_id);
  const int nwatchers = absl::GetFlag(FLAGS_watchers);
  const int nchannels = std::max(1, absl::GetFlag(FLAGS_channels));
  std::vector<std::unique_ptr<dv1::MetadataService::Stub>> meta;
  for (int i = 0; i < nchannels; ++i) {
    meta.push_back(dv1::MetadataService::NewStub(Channel(absl::GetFlag(FLAGS_metadata_target), i)));
  }
  auto merge = mv1::MergeService::NewStub(Channel(absl::GetFlag(FLAGS_merge_target), 100));
  auto blocks = BlockStores();
  if (blocks == nullptr) return 2;
  Cid car = CidForSha256(kCodecFireproofCar, "");
  if (!UploadCar(*blocks->For(kiln::LedgerRef(tenant, ledger)), tenant, ledger,
                 "watched car" + absl::GetFlag(FLAGS_run_id), &car)) {
    return 1;
  }
  std::atomic<int> ready{0};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < nwatchers; ++i) {
    watchers.push_back(std::make_unique<Watcher>(*meta[i % nchannels], tenant, ledger, &ready));
  }
  auto wait_start = Clock::now();
  while (ready.load() < nwatchers && Clock::now() - wait_start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ready.load() < nwatchers) {
    std::fprintf(stderr, "only %d of %d watchers started\n", ready.load(), nwatchers);
    return 1;
  }
  std::map<uint64_t, Clock::time_point> acked, sent;
  std::vector<std::string> heads;
  uint64_t errors = 0;
  // Paced: commit i is sent at start + i * interval (or at once when the previous one ran late).
  const auto interval = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_interval));
  auto next = Clock::now();
  for (int i = 0; i < absl::GetFlag(FLAGS_commits); ++i) {
    std::this_thread::sleep_until(next);
    next += interval;
    uint64_t version = 0;
    auto send = Clock::now();
    grpc::Status s = PutMeta(*merge, tenant, ledger, "watch-writer", car, &heads, &version);
    auto now = Clock::now();
    if (!s.ok()) {
      ++errors;
      continue;
    }
    acked[version] = now;
    sent[version] = send;
  }
  // Give the last event time to arrive, then stop every stream.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) w->AwaitDone();
  std::vector<double> delays, from_send;
  uint64_t missing = 0, early = 0;
  for (auto& w : watchers) {
    auto got = w->received();
    for (const auto& [version, ack] : acked) {
      auto it = got.find(version);
      if (it == got.end()) {
        ++missing;
        continue;
      }
      from_send.push_back(
          std::chrono::duration<double, std::milli>(it->second - sent[version]).count());
      double ms = std::chrono::duration<double, std::milli>(it->second - ack).count();
      if (ms < 0) {
        ++early;  // the event beat the writer's acknowledgement
        ms = 0;
      }
      delays.push_back(ms);
    }
  }
  size_t n = delays.size();
  double p50 = Percentile(delays, 0.50), p99 = Percentile(delays, 0.99);
  double max = delays.empty() ? 0 : delays.back();
  double send_p50 = Percentile(from_send, 0.50), send_p99 = Percentile(from_send, 0.99);
  // p50/p99 count from the writer's acknowledgement (deliveries that beat it count as 0);
  // send_p50/send_p99 count from the moment the writer sent its put (includes the whole commit).
  std::printf(
      "mode=watch watchers=%d commits=%zu deliveries=%zu missing=%llu before_ack=%llu "
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f send_p50_ms=%.2f send_p99_ms=%.2f errors=%llu\n",
      nwatchers, acked.size(), n, static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(early), p50, p99, max, send_p50, send_p99,
      static_cast<unsigned long long>(errors));
  return errors == 0 && missing == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kiln::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Load generator for Kiln merge/metadata (a benchmark).");
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "commits") return kiln::tools::RunCommits();
  if (mode == "watch") return kiln::tools::RunWatch();
  std::fprintf(stderr, "--mode must be commits or watch\n");
  return 2;
}
