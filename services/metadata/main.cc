// kiln-metadata: durable ledger state. The only place that reads flags and picks the backend.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/admin_service.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/shards.h"
#include "glog/logging.h"
#include "services/metadata/kek_loader.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/ledger_store.h"
#include "services/metadata/log_follower.h"
#include "services/metadata/metadata_service.h"
#include "services/metadata/postgres_kv.h"
#include "services/metadata/watch_hub.h"

KILN_DEFINE_SERVICE_FLAGS("127.0.0.1:7102", kiln::kGrpcAddressHelp, "127.0.0.1:9102");
ABSL_FLAG(std::string, backend, "",
          "Storage backend URL: rocksdb:///abs/path[?sync=false], memory://, or "
          "postgres://user@host:5432/db (shared by any number of metadata replicas) (required).");
ABSL_FLAG(std::string, backend_password_file, "",
          "postgres:// only: file holding the database password (else libpq's $PGPASSWORD or "
          "~/.pgpass). Never put the password in the URL.");
ABSL_FLAG(absl::Duration, backend_startup_wait, absl::Minutes(2),
          "How long to keep retrying at startup while the backend is UNAVAILABLE (a database "
          "that is still starting) before exiting.");
ABSL_FLAG(absl::Duration, watch_poll_interval, absl::Seconds(1),
          "postgres:// only: how often watched ledgers are re-read for commits made through "
          "other replicas, besides LISTEN/NOTIFY hints (the only path with ?hints=poll).");
ABSL_FLAG(std::string, kek_file, "",
          "File holding the 32-byte key-encryption key (64 hex characters or base64) that seals "
          "the ledgers' gossiped keys at rest.");
ABSL_FLAG(std::string, kek_env, "KILN_KEK",
          "Environment variable holding the key-encryption key when --kek_file is not set.");
ABSL_FLAG(std::vector<std::string>, previous_kek_files, {},
          "KEK rotation: comma-separated files holding previous key-encryption keys. Keys sealed "
          "under them are still opened, and at startup every such key is re-sealed under the "
          "current KEK (--kek_file); once the log says so, the previous KEKs can be dropped.");
ABSL_FLAG(bool, insecure_dev_kek, false,
          "Development only: without a key-encryption key, seal keys under a fixed, publicly known "
          "key. Never use with real data.");
ABSL_FLAG(int, io_threads, 64,
          "Threads for storage I/O; concurrent commits share fsyncs only across threads.");
ABSL_FLAG(uint64_t, max_queued_requests, 4096, kiln::kMaxQueuedRequestsHelp);
ABSL_FLAG(uint64_t, max_watch_queue, 1024,
          "Events queued for one watcher before it is cut off with RESOURCE_EXHAUSTED.");
ABSL_FLAG(uint64_t, serve_recent_entries, kiln::metadata::LedgerStore::kDefaultRecentEntries,
          "How many of a ledger's newest meta entries a new reader gets beside the heads (at "
          "least two of the Fireproof client's compaction windows; see docs/protocol-rules.md).");
ABSL_FLAG(std::string, shard_index, "0", kiln::kShardIndexHelp);
ABSL_FLAG(int64_t, shard_count, 0, kiln::kShardCountHelp);
ABSL_FLAG(std::string, checkpoint_dir, "", kiln::kCheckpointDirHelp);

namespace {

// Opens the KV backend, waiting while it is UNAVAILABLE: a shared database may still be starting
// (or failing over). Returns the last error once `wait` has passed, or any other error at once.
absl::StatusOr<std::unique_ptr<kiln::metadata::KvBackend>> OpenBackend(
    const kiln::BackendRegistry<kiln::metadata::KvBackend>& registry, const std::string& url,
    absl::Duration wait) {
  const absl::Time connect_deadline = absl::Now() + wait;
  auto kv = registry.Create(url);
  for (absl::Duration backoff = absl::Milliseconds(250);
       !kv.ok() && kv.status().code() == absl::StatusCode::kUnavailable &&
       absl::Now() + backoff < connect_deadline;
       backoff = std::min(backoff * 2, absl::Seconds(5))) {
    LOG(WARNING) << "backend unavailable, retrying in " << absl::FormatDuration(backoff) << ": "
                 << kv.status().message();
    absl::SleepFor(backoff);
    kv = registry.Create(url);
  }
  return kv;
}

}  // namespace

// The --help text.
constexpr char kUsage[] =
    "Kiln metadata: durable ledger heads, keys and log.\n"
    "  kiln-metadata --backend=rocksdb:///var/lib/kiln/metadata --kek_file=/etc/kiln/kek";

int main(int argc, char** argv) {
  kiln::StartServiceProcess(argc, argv, {.usage = kUsage});

  kiln::ServiceConfig config = KILN_SERVICE_CONFIG_FROM_FLAGS("kiln-metadata");
  config.grpc.max_receive_message_bytes = 64 << 20;
  kiln::ServiceMain process(std::move(config));

  const std::string backend_url = absl::GetFlag(FLAGS_backend);
  if (backend_url.empty()) {
    process.Die(
        "--backend is required, e.g. --backend=rocksdb:///var/lib/kiln/metadata or memory://");
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1) process.Die("--io_threads must be at least 1");
  kiln::metadata::KekSources kek_sources;
  kek_sources.kek_file = absl::GetFlag(FLAGS_kek_file);
  kek_sources.kek_env = absl::GetFlag(FLAGS_kek_env);
  kek_sources.previous_kek_files = absl::GetFlag(FLAGS_previous_kek_files);
  kek_sources.insecure_dev_kek = absl::GetFlag(FLAGS_insecure_dev_kek);
  if (const char* value = std::getenv(kek_sources.kek_env.c_str());
      !kek_sources.kek_env.empty() && value != nullptr) {
    kek_sources.kek_env_value = value;
  }
  kiln::KeySealer sealer = process.ValueOrDie(kiln::metadata::LoadKeySealer(kek_sources));

  kiln::BackendRegistry<kiln::metadata::KvBackend> registry = kiln::metadata::KvBackendRegistry();
  const std::string password_file = absl::GetFlag(FLAGS_backend_password_file);
  if (!password_file.empty()) {
    std::string password =
        process.ValueOrDie(kiln::ReadFlagFile(password_file, "--backend_password_file"));
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    for (const char* scheme : {"postgres", "postgresql"}) {
      registry.Register(scheme, [password](const kiln::BackendUrl& url) {
        return kiln::metadata::OpenPostgresKv(url, {.password = password});
      });
    }
  }
  std::unique_ptr<kiln::metadata::KvBackend> kv = process.ValueOrDie(
      OpenBackend(registry, backend_url, absl::GetFlag(FLAGS_backend_startup_wait)));

  process.ServeMetrics();
  std::shared_ptr<prometheus::Collectable> engine_stats = kv->StatsCollector();
  if (engine_stats != nullptr) process.metrics().AddCollectable(engine_stats);

  kiln::metadata::WatchHub hub;
  // A shared backend (PostgreSQL): watchers learn of other replicas' commits from the log.
  std::unique_ptr<kiln::metadata::LogFollower> follower;
  kiln::metadata::LedgerStore store(
      *kv, sealer, kiln::RealClock::Get(),
      [&hub, &follower](const kiln::LedgerRef& ledger,
                        std::shared_ptr<const kiln::metadata::v1::WatchEvent> event) {
        if (follower != nullptr) {
          follower->OnLocalCommit(ledger, std::move(event));
        } else {
          hub.Publish(ledger, event);
        }
      },
      absl::GetFlag(FLAGS_serve_recent_entries));
  if (kv->shared()) {
    if (absl::GetFlag(FLAGS_shard_count) != 0) {
      process.Die(
          "--shard_count must be 0 with a shared backend: every replica serves every ledger");
    }
    follower = std::make_unique<kiln::metadata::LogFollower>(
        store, hub, kv->NewCommitHints(),
        kiln::metadata::LogFollowerOptions{.poll_interval =
                                               absl::GetFlag(FLAGS_watch_poll_interval)});
  }
  if (sealer.has_previous()) {
    absl::StatusOr<uint64_t> resealed = store.ResealKeys();
    if (resealed.ok()) {
      LOG(INFO) << "KEK rotation: re-sealed " << *resealed
                << " stored key(s) under the current key-encryption key; every key now opens "
                   "under --kek_file alone, so --previous_kek_files can be dropped";
    } else {
      LOG(ERROR) << "KEK rotation incomplete, keep --previous_kek_files: " << resealed.status();
    }
  }
  kiln::BoundedExecutor executor(
      {.threads = absl::GetFlag(FLAGS_io_threads),
       .max_queued = static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_requests))});
  kiln::metadata::MetadataServiceOptions options;
  options.shard = process.ValueOrDie(kiln::ShardOwnership::Parse(absl::GetFlag(FLAGS_shard_index),
                                                                 absl::GetFlag(FLAGS_shard_count)));
  options.max_watch_queue = absl::GetFlag(FLAGS_max_watch_queue);
  kiln::metadata::MetadataServiceImpl service(options, store, hub, executor,
                                              process.metrics().registry(), follower.get());
  kiln::AdminServiceImpl admin(
      absl::GetFlag(FLAGS_checkpoint_dir),
      [backend = kv.get()](const std::string& dir) { return backend->Checkpoint(dir); }, executor);
  process.StartGrpc({&service, &admin},
                    ", backend " + backend_url.substr(0, backend_url.find('?')));
  return process.RunUntilSignal(
      {[&] { executor.Shutdown(); }, [&] { follower.reset(); }, [&] { kv.reset(); }});
}
