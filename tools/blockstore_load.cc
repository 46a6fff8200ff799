// kiln-blockstore-load: a closed-loop load generator for the block-store over gRPC. A benchmark,
// not a test: it reports throughput and latency and never asserts on them.
//
// --clients threads each run one call at a time (closed loop) for --duration, spread round-robin
// over --channels gRPC channels (each channel has its own TCP connection). Put uploads a fresh,
// unique blob per call to STORE_CAR under the blob's real CID and waits for the PutResponse, which
// the server sends only once the blob is durable. Get first uploads --get_blobs blobs, then reads
// them round-robin and checks every byte count and the reported digest.
//
// Prints one line of key=value pairs (easy to read and to parse), e.g.
//   op=put size=1024 clients=32 channels=8 chunk=262144 ops=41000 secs=10.00 ops_per_sec=4100.0
//   MB_per_sec=4.20 p50_ms=7.10 p99_ms=15.30 errors=0 client_cpu=0.55
// (on one line; MB is 10^6 bytes, like dd; latencies cover the RPC only, not making the blob;
// client_cpu is the cores this tool used, which on a small machine are not available to the
// server). Exits 1 when any call failed, 2 on bad flags.
//
// Threading: main parses flags and starts the client threads; each thread owns its buffers and
// latency samples, which main merges after joining them. Stubs are shared (they are thread-safe).
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cid.h"
#include "common/grpc_status.h"
#include "common/sha256.h"
#include "grpc/impl/codegen/grpc_types.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7101", "Block-store gRPC address, host:port.");
ABSL_FLAG(std::string, op, "put", "Operation to load: put or get.");
ABSL_FLAG(uint64_t, size, 1024, "Blob size in bytes (at least 16).");
ABSL_FLAG(int, clients, 1, "Concurrent closed-loop clients (threads).");
ABSL_FLAG(int, channels, 0,
          "gRPC channels (TCP connections) the clients share round-robin; 0 picks "
          "min(clients, 8). On a 2-core machine with 32 clients, 4-8 channels gave the most 1 KiB "
          "puts/s (1 or 32 were slower) and 8-32 the most 1 MiB gets/s; see docs/benchmarks.md.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to apply load.");
ABSL_FLAG(uint64_t, chunk, 256 << 10, "Bytes of blob data per Put stream message.");
ABSL_FLAG(std::string, tenant, "bench", "Tenant id of the blobs.");
ABSL_FLAG(std::string, ledger, "load", "Ledger id of the blobs.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "Deadline of every call.");
ABSL_FLAG(int, get_blobs, 64, "For --op=get: how many blobs to upload first and read in turn.");
ABSL_FLAG(bool, tune_malloc, true,
          "Keep glibc malloc from returning large buffers to the kernel after every call (raises "
          "M_MMAP_THRESHOLD and M_TRIM_THRESHOLD), so that page faults in this load generator do "
          "not take CPU from the server on small machines. Does not affect the server.");

namespace kiln::tools {
namespace {

namespace v1 = ::kiln::blockstore::v1;

enum class Op { kPut, kGet };

constexpr uint64_t kMinBlobBytes = 16;  // room for the unique header
constexpr size_t kMaxErrorsPrinted = 5;

// Validated configuration, built once from the flags in main.
struct LoadConfig {
  std::string target;
  Op op = Op::kPut;
  uint64_t size = 0;
  int clients = 1;
  int channels = 1;
  absl::Duration duration;
  uint64_t chunk = 0;
  std::string tenant;
  std::string ledger;
  absl::Duration timeout;
  int get_blobs = 0;
};

// A blob ready to upload: bytes, digest and CID key.
struct Blob {
  std::string data;
  std::string sha256;  // 32 raw bytes
  std::string key;     // CIDv1 text, codec kCodecFireproofCar
};

// Makes unique, incompressible blobs cheaply: a random body generated once, and a 16-byte header
// (run nonce, generator id, sequence number) that differs for every blob of every run. Not
// thread-safe; each client owns one.
class BlobMaker {
 public:
  BlobMaker(uint64_t size, uint64_t run_nonce, uint64_t maker_id)
      : run_nonce_(run_nonce), maker_id_(maker_id) {
    std::mt19937_64 rng(run_nonce ^ (maker_id * 0x9e3779b97f4a7c15ull));
    body_.resize(size);
    for (size_t i = 0; i < size; i += 8) {
      uint64_t r = rng();
      std::memcpy(body_.data() + i, &r, std::min<size_t>(8, size - i));
    }
  }

  // Refills `blob` with the next unique blob (reusing its buffers). Returns INTERNAL only if the
  // CID cannot be built, which would be a bug.
  absl::Status Next(Blob& blob) {
    blob.data.assign(body_);
    uint64_t header[2] = {run_nonce_, (maker_id_ << 40) | seq_++};
    std::memcpy(blob.data.data(), header, sizeof(header));
    Sha256Digest digest = Sha256(blob.data);
    blob.sha256 = DigestBytes(digest);
    // CidForSha256 would hash the bytes a second time; build the same CID from the digest.
    absl::StatusOr<Cid> cid = Cid::Create(1, kCodecFireproofCar, kMultihashSha256, blob.sha256);
    if (!cid.ok()) {
      return absl::InternalError(absl::StrCat("building a CID: ", cid.status().message()));
    }
    blob.key = cid->ToString();
    return absl::OkStatus();
  }

 private:
  const uint64_t run_nonce_;
  const uint64_t maker_id_;
  uint64_t seq_ = 0;
  std::string body_;
};

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout);
}

void FillRef(const LoadConfig& config, const std::string& key, v1::BlobRef* ref) {
  ref->set_tenant(config.tenant);
  ref->set_ledger(config.ledger);
  ref->set_store(v1::STORE_CAR);
  ref->set_key(key);
}

// Uploads `blob` in --chunk pieces and waits for the durable ack. Returns the call's status
// mapped to absl, or FAILED_PRECONDITION when the server already had the blob (then the load
// would not measure new writes) and DATA_LOSS when the ack reports another size or digest.
absl::Status PutBlob(v1::BlockStoreService::Stub& stub, const LoadConfig& config,
                     const Blob& blob) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(config.timeout));
  v1::PutResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> writer = stub.Put(&context, &response);
  v1::PutRequest request;
  FillRef(config, blob.key, request.mutable_ref());
  request.set_size(blob.data.size());
  request.set_sha256(blob.sha256);
  size_t offset = 0;
  while (offset < blob.data.size()) {
    size_t n = std::min<size_t>(config.chunk, blob.data.size() - offset);
    request.set_data(blob.data.data() + offset, n);
    offset += n;
    grpc::WriteOptions options;
    if (offset == blob.data.size()) options.set_last_message();  // half-close with the data
    if (!writer->Write(request, options)) break;                 // stream broken: Finish says why
    request.Clear();
  }
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!response.created()) {
    return absl::FailedPreconditionError("server already had the blob; content was not unique");
  }
  if (response.size() != blob.data.size() || response.sha256() != blob.sha256) {
    return absl::DataLossError("put ack reports a different size or digest");
  }
  return absl::OkStatus();
}

// Reads `blob` back and checks the byte count and the digest the server reports. Returns the
// call's status, or DATA_LOSS on a mismatch. Does not rehash the bytes: the server verifies them
// against the stored digest before sending, and rehashing would take client CPU from the server
// on small machines.
absl::Status GetBlob(v1::BlockStoreService::Stub& stub, const LoadConfig& config,
                     const Blob& blob) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(config.timeout));
  v1::GetRequest request;
  FillRef(config, blob.key, request.mutable_ref());
  std::unique_ptr<grpc::ClientReader<v1::GetResponse>> reader = stub.Get(&context, request);
  v1::GetResponse response;
  bool first = true;
  uint64_t declared = 0;
  uint64_t received = 0;
  std::string digest;
  while (reader->Read(&response)) {
    if (first) {
      declared = response.size();
      digest = response.sha256();
      first = false;
    }
    received += response.data().size();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (declared != blob.data.size() || received != blob.data.size() || digest != blob.sha256) {
    return absl::DataLossError(absl::StrCat("get returned ", received, " bytes (declared ",
                                            declared, "), expected ", blob.data.size(),
                                            " with the uploaded digest"));
  }
  return absl::OkStatus();
}

// What one client thread measured.
struct ClientResult {
  std::vector<int64_t> latencies_ns;
  uint64_t errors = 0;
};

// Collects the first few error messages from all clients, for stderr.
class ErrorLog {
 public:
  void Add(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    ++count_;
    if (messages_.size() < kMaxErrorsPrinted) messages_.push_back(status.ToString());
  }
  void Print() {
    absl::MutexLock lock(&mu_);
    for (const auto& m : messages_)
      std::fprintf(stderr, "kiln-blockstore-load: error: %s\n", m.c_str());
    if (count_ > messages_.size()) {
      std::fprintf(stderr, "kiln-blockstore-load: ... and %" PRIu64 " more errors\n",
                   count_ - static_cast<uint64_t>(messages_.size()));
    }
  }

 private:
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> messages_ ABSL_GUARDED_BY(mu_);
};

// One closed-loop client: runs calls back to back until `end`. A client stops at its first
// error (so that a dead server does not turn into a busy loop); the error is counted.
void RunClient(const LoadConfig& config, int id, v1::BlockStoreService::Stub& stub,
               uint64_t run_nonce, const std::vector<Blob>& get_set, const absl::Notification& go,
               const std::atomic<int64_t>& end_ns, ErrorLog& errors, ClientResult& result) {
  BlobMaker maker(config.op == Op::kPut ? config.size : 0, run_nonce,
                  static_cast<uint64_t>(id) + 1);
  Blob blob;
  size_t next_get = static_cast<size_t>(id);
  result.latencies_ns.reserve(1 << 16);
  go.WaitForNotification();
  const int64_t end = end_ns.load();
  while (absl::GetCurrentTimeNanos() < end) {
    absl::Status status;
    int64_t start;
    if (config.op == Op::kPut) {
      status = maker.Next(blob);  // blob generation and hashing are not part of the latency
      start = absl::GetCurrentTimeNanos();
      if (status.ok()) status = PutBlob(stub, config, blob);
    } else {
      const Blob& b = get_set[next_get++ % get_set.size()];
      start = absl::GetCurrentTimeNanos();
      status = GetBlob(stub, config, b);
    }
    if (!status.ok()) {
      ++result.errors;
      errors.Add(status);
      return;
    }
    result.latencies_ns.push_back(absl::GetCurrentTimeNanos() - start);
  }
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Without this, channels with equal arguments share one subchannel, i.e. one TCP connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// CPU seconds (user + system) this process has used so far.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

double PercentileMs(std::vector<int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted_ns.size() - 1) + 0.5);
  return static_cast<double>(sorted_ns[i]) / 1e6;
}

int Run(const LoadConfig& config) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::BlockStoreService::Stub>> stubs;
  for (int i = 0; i < config.channels; ++i) {
    channels.push_back(MakeChannel(config.target));
    if (!channels.back()->WaitForConnected(DeadlineAfter(config.timeout))) {
      std::fprintf(stderr, "kiln-blockstore-load: cannot connect to %s within %s\n",
                   config.target.c_str(), absl::FormatDuration(config.timeout).c_str());
      return 1;
    }
    stubs.push_back(v1::BlockStoreService::NewStub(channels.back()));
  }
  const uint64_t run_nonce = std::random_device()() | (uint64_t{std::random_device()()} << 32);

  // Get: upload the blobs to read, outside the measured interval.
  std::vector<Blob> get_set;
  if (config.op == Op::kGet) {
    BlobMaker maker(config.size, run_nonce, 0);
    get_set.resize(static_cast<size_t>(config.get_blobs));
    for (Blob& blob : get_set) {
      absl::Status s = maker.Next(blob);
      if (s.ok()) s = PutBlob(*stubs[0], config, blob);
      if (!s.ok()) {
        std::fprintf(stderr, "kiln-blockstore-load: uploading the get set: %s\n",
                     s.ToString().c_str());
        return 1;
      }
    }
  }

  ErrorLog errors;
  absl::Notification go;
  std::atomic<int64_t> end_ns{0};
  std::vector<ClientResult> results(static_cast<size_t>(config.clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < config.clients; ++i) {
    threads.emplace_back(RunClient, std::cref(config), i, std::ref(*stubs[i % config.channels]),
                         run_nonce, std::cref(get_set), std::cref(go), std::cref(end_ns),
                         std::ref(errors), std::ref(results[i]));
  }
  const double cpu_start = ProcessCpuSeconds();
  const int64_t start = absl::GetCurrentTimeNanos();
  end_ns.store(start + absl::ToInt64Nanoseconds(config.duration));
  go.Notify();
  for (auto& t : threads) t.join();
  const double secs = static_cast<double>(absl::GetCurrentTimeNanos() - start) / 1e9;
  const double cpu_secs = ProcessCpuSeconds() - cpu_start;

  std::vector<int64_t> all;
  uint64_t error_count = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    error_count += r.errors;
  }
  std::sort(all.begin(), all.end());
  const double ops = static_cast<double>(all.size());
  std::printf(
      "op=%s size=%" PRIu64 " clients=%d channels=%d chunk=%" PRIu64
      " ops=%zu secs=%.2f ops_per_sec=%.1f MB_per_sec=%.2f p50_ms=%.3f p99_ms=%.3f errors=%" PRIu64
      " client_cpu=%.2f\n",
      config.op == Op::kPut ? "put" : "get", config.size, config.clients, config.channels,
      config.chunk, all.size(), secs, ops / secs,
      ops * static_cast<double>(config.size) / secs / 1e6, PercentileMs(all, 0.50),
      PercentileMs(all, 0.99), error_count, cpu_secs / secs);
  std::fflush(stdout);
  errors.Print();
  return error_count == 0 ? 0 : 1;
}

// Exits with status 2 and a clear message on bad flags.
[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "kiln-blockstore-load: %s\n", message.c_str());
  std::exit(2);
}

LoadConfig ConfigFromFlags() {
  LoadConfig c;
  c.target = absl::GetFlag(FLAGS_target);
  const std::string op = absl::GetFlag(FLAGS_op);
  if (op == "put") {
    c.op = Op::kPut;
  } else if (op == "get") {
    c.op = Op::kGet;
  } else {
    Die("--op must be put or get");
  }
  c.size = absl::GetFlag(FLAGS_size);
  if (c.size < kMinBlobBytes) Die(absl::StrCat("--size must be at least ", kMinBlobBytes));
  c.clients = absl::GetFlag(FLAGS_clients);
  if (c.clients < 1) Die("--clients must be at least 1");
  c.channels = absl::GetFlag(FLAGS_channels);
  if (c.channels < 0) Die("--channels must be 0 (auto) or positive");
  if (c.channels == 0) c.channels = std::min(c.clients, 8);
  c.channels = std::min(c.channels, c.clients);
  c.duration = absl::GetFlag(FLAGS_duration);
  if (c.duration <= absl::ZeroDuration()) Die("--duration must be positive");
  c.chunk = absl::GetFlag(FLAGS_chunk);
  if (c.chunk == 0) Die("--chunk must be positive");
  c.tenant = absl::GetFlag(FLAGS_tenant);
  c.ledger = absl::GetFlag(FLAGS_ledger);
  if (c.tenant.empty() || c.ledger.empty()) Die("--tenant and --ledger must not be empty");
  c.timeout = absl::GetFlag(FLAGS_timeout);
  if (c.timeout <= absl::ZeroDuration()) Die("--timeout must be positive");
  c.get_blobs = absl::GetFlag(FLAGS_get_blobs);
  if (c.get_blobs < 1) Die("--get_blobs must be at least 1");
  return c;
}

}  // namespace
}  // namespace kiln::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Closed-loop load generator for kiln-blockstore.\n"
      "  kiln-blockstore-load --target=127.0.0.1:7101 --op=put --size=1024 --clients=32 "
      "--duration=10s");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_tune_malloc)) {
    // Fixed thresholds also switch off glibc's dynamic threshold adjustment.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  return kiln::tools::Run(kiln::tools::ConfigFromFlags());
}
