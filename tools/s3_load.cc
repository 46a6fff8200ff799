// kiln-s3-load: closed-loop PUT or GET load straight against an S3-compatible store, with the same
// client Kiln's s3:// backend uses (common/s3_client.h: SigV4, pooled keep-alive libcurl). The
// baseline that tools/bench/blockstore.sh's s3 mode compares the block-store path with. Prints one
// line in kiln-blockstore-load's format. Credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY.
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/s3_client.h"

ABSL_FLAG(std::string, endpoint, "http://127.0.0.1:9000", "Store endpoint, http://host:port.");
ABSL_FLAG(std::string, bucket, "kiln", "Bucket.");
ABSL_FLAG(std::string, region, "us-east-1", "Region signatures are made for.");
ABSL_FLAG(std::string, prefix, "direct", "Object name prefix.");
ABSL_FLAG(std::string, op, "put", "put or get.");
ABSL_FLAG(uint64_t, size, 1 << 20, "Object size in bytes.");
ABSL_FLAG(int, clients, 1, "Concurrent closed-loop clients (threads).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to apply load.");
ABSL_FLAG(int, get_blobs, 64, "For --op=get: how many objects to upload first and read in turn.");

namespace {

double PercentileMs(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1e6;
}

bool Ok(const absl::StatusOr<kiln::HttpResponse>& r) {
  return r.ok() && r->status >= 200 && r->status < 300;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kiln-s3-load --endpoint=http://127.0.0.1:9000 --op=put");
  absl::ParseCommandLine(argc, argv);
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr || secret == nullptr) {
    std::fprintf(stderr, "kiln-s3-load: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
    return 2;
  }
  const std::string op = absl::GetFlag(FLAGS_op);
  if (op != "put" && op != "get") {
    std::fprintf(stderr, "kiln-s3-load: --op must be put or get\n");
    return 2;
  }
  const int clients = std::max(1, absl::GetFlag(FLAGS_clients));
  kiln::S3ClientOptions options;
  options.location = {absl::GetFlag(FLAGS_endpoint), absl::GetFlag(FLAGS_bucket),
                      absl::GetFlag(FLAGS_region), true};
  options.credentials = {id, secret, ""};
  options.http.max_connections = static_cast<size_t>(clients);
  options.max_attempts = 1;
  kiln::S3Client client(options);

  const uint64_t size = absl::GetFlag(FLAGS_size);
  std::string body(size, '\0');
  std::mt19937_64 rng(std::random_device{}());
  for (char& c : body) c = static_cast<char>(rng());
  const std::string prefix =
      absl::StrCat(absl::GetFlag(FLAGS_prefix), "/", std::random_device{}(), "/");
  auto request = [&](const std::string& method, const std::string& key) {
    kiln::S3Request r;
    r.method = method;
    r.key = prefix + key;
    if (method == "PUT") r.body = body;
    return r;
  };

  const int get_blobs = std::max(1, absl::GetFlag(FLAGS_get_blobs));
  if (op == "get") {
    for (int i = 0; i < get_blobs; ++i) {
      if (!Ok(client.Send(request("PUT", absl::StrCat("get-", i))))) {
        std::fprintf(stderr, "kiln-s3-load: uploading the get set failed\n");
        return 1;
      }
    }
  }

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::GetFlag(FLAGS_duration);
  std::vector<std::vector<int64_t>> latencies(static_cast<size_t>(clients));
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (uint64_t n = 0; absl::Now() < end; ++n) {
        const absl::Time t0 = absl::Now();
        const std::string key =
            op == "put" ? absl::StrCat("c", c, "-", n) : absl::StrCat("get-", (c + n) % get_blobs);
        absl::StatusOr<kiln::HttpResponse> r =
            client.Send(request(op == "put" ? "PUT" : "GET", key));
        if (!Ok(r) || (op == "get" && r->body.size() != size)) {
          errors.fetch_add(1);
          continue;
        }
        latencies[static_cast<size_t>(c)].push_back(absl::ToInt64Nanoseconds(absl::Now() - t0));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<int64_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const double ops = static_cast<double>(all.size());
  std::printf("op=%s size=%" PRIu64
              " clients=%d ops=%zu secs=%.2f ops_per_sec=%.1f MB_per_sec=%.2f p50_ms=%.3f "
              "p99_ms=%.3f errors=%" PRIu64 "\n",
              op.c_str(), size, clients, all.size(), secs, ops / secs,
              ops * static_cast<double>(size) / secs / 1e6, PercentileMs(all, 0.50),
              PercentileMs(all, 0.99), errors.load());
  return errors.load() == 0 ? 0 : 1;
}
