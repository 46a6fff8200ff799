// kiln-metadata: durable ledger state. The only place that reads flags and picks the backend.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/admin_service.h"
#include "common/aead.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/sha256.h"
#include "common/shards.h"
#include "glog/logging.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/ledger_store.h"
#include "services/metadata/log_follower.h"
#include "services/metadata/metadata_service.h"
#include "services/metadata/postgres_kv.h"
#include "services/metadata/watch_hub.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7102", "Address the gRPC server listens on.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9102",
          "Address of the Prometheus /metrics endpoint; empty disables it.");
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
ABSL_FLAG(uint64_t, max_queued_requests, 4096,
          "Requests waiting for an I/O thread before new ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(uint64_t, max_watch_queue, 1024,
          "Events queued for one watcher before it is cut off with RESOURCE_EXHAUSTED.");
ABSL_FLAG(uint64_t, serve_recent_entries, kiln::metadata::LedgerStore::kDefaultRecentEntries,
          "How many of a ledger's newest meta entries a new reader gets beside the heads (at "
          "least two of the Fireproof client's compaction windows; see docs/protocol-rules.md).");
ABSL_FLAG(std::string, shard_index, "0",
          "This process's shard: a number, or a name ending in -<number> such as the StatefulSet "
          "pod name kiln-metadata-2. Requests for ledgers placed on another shard are refused.");
ABSL_FLAG(int64_t, shard_count, 0,
          "Number of shards in the deployment (the length of edge's and merge's shard list); 0: "
          "unsharded, serve every ledger.");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "Directory for RocksDB checkpoints made through kiln.admin.v1.AdminService "
          "(kiln-admin checkpoint); on the database's filesystem they are hard links. Empty "
          "disables checkpoints.");
ABSL_FLAG(std::string, ready_file, "",
          "When set, the chosen ports are written here once the server is serving.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight RPCs may run after SIGTERM before they are cancelled.");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "kiln-metadata: " << message << std::endl;
  std::exit(2);
}

// Reads the key-encryption key from --kek_file or the environment; never logs it.
std::string LoadKek() {
  std::string text;
  const std::string file = absl::GetFlag(FLAGS_kek_file);
  const std::string env = absl::GetFlag(FLAGS_kek_env);
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) Die("cannot read --kek_file " + file);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (!env.empty() && std::getenv(env.c_str()) != nullptr) {
    text = std::getenv(env.c_str());
  } else if (absl::GetFlag(FLAGS_insecure_dev_kek)) {
    LOG(WARNING) << "INSECURE: sealing ledger keys under a fixed development key "
                    "(--insecure_dev_kek); do not use with real data";
    return kiln::DigestBytes(kiln::Sha256("kiln insecure development key-encryption key"));
  } else {
    Die("no key-encryption key: set --kek_file=PATH or $" + env +
        " (32 bytes as hex, e.g. from `openssl rand -hex 32`), or pass --insecure_dev_kek for "
        "development");
  }
  absl::StatusOr<std::string> kek = kiln::ParseKek(text);
  if (!kek.ok()) Die(std::string(kek.status().message()));
  return *kek;
}

}  // namespace

int main(int argc, char** argv) {
  kiln::BlockTerminationSignals();
  kiln::TuneMalloc();
  absl::SetProgramUsageMessage(
      "Kiln metadata: durable ledger heads, keys and log.\n"
      "  kiln-metadata --backend=rocksdb:///var/lib/kiln/metadata --kek_file=/etc/kiln/kek");
  absl::ParseCommandLine(argc, argv);
  kiln::InitLogging(argv[0]);

  const std::string backend_url = absl::GetFlag(FLAGS_backend);
  if (backend_url.empty()) {
    Die("--backend is required, e.g. --backend=rocksdb:///var/lib/kiln/metadata or memory://");
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1) Die("--io_threads must be at least 1");
  std::vector<std::string> previous_keks;
  for (const std::string& file : absl::GetFlag(FLAGS_previous_kek_files)) {
    std::ifstream in(file);
    if (!in) Die("cannot read --previous_kek_files entry " + file);
    absl::StatusOr<std::string> kek = kiln::ParseKek(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    if (!kek.ok()) Die(file + ": " + std::string(kek.status().message()));
    previous_keks.push_back(*std::move(kek));
  }
  absl::StatusOr<kiln::KeySealer> sealer =
      kiln::KeySealer::Create(LoadKek(), std::move(previous_keks));
  if (!sealer.ok()) Die(std::string(sealer.status().message()));

  kiln::BackendRegistry<kiln::metadata::KvBackend> registry = kiln::metadata::KvBackendRegistry();
  const std::string password_file = absl::GetFlag(FLAGS_backend_password_file);
  if (!password_file.empty()) {
    std::ifstream in(password_file);
    if (!in) Die("cannot read --backend_password_file " + password_file);
    std::string password(std::istreambuf_iterator<char>(in), {});
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    for (const char* scheme : {"postgres", "postgresql"}) {
      registry.Register(scheme, [password](const kiln::BackendUrl& url) {
        return kiln::metadata::OpenPostgresKv(url, {.password = password});
      });
    }
  }
  // A shared database may still be starting (or failing over): wait for it instead of exiting.
  const absl::Time connect_deadline = absl::Now() + absl::GetFlag(FLAGS_backend_startup_wait);
  auto kv = registry.Create(backend_url);
  for (absl::Duration backoff = absl::Milliseconds(250);
       !kv.ok() && kv.status().code() == absl::StatusCode::kUnavailable &&
       absl::Now() + backoff < connect_deadline;
       backoff = std::min(backoff * 2, absl::Seconds(5))) {
    LOG(WARNING) << "backend unavailable, retrying in " << absl::FormatDuration(backoff) << ": "
                 << kv.status().message();
    absl::SleepFor(backoff);
    kv = registry.Create(backend_url);
  }
  if (!kv.ok()) Die(std::string(kv.status().message()));

  kiln::Metrics metrics;
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    absl::Status s = metrics.Serve(metrics_address);
    if (!s.ok()) Die(std::string(s.message()));
  }

  std::shared_ptr<prometheus::Collectable> engine_stats = (*kv)->StatsCollector();
  if (engine_stats != nullptr) metrics.AddCollectable(engine_stats);

  kiln::metadata::WatchHub hub;
  // A shared backend (PostgreSQL): watchers learn of other replicas' commits from the log.
  std::unique_ptr<kiln::metadata::LogFollower> follower;
  kiln::metadata::LedgerStore store(
      **kv, *sealer, kiln::RealClock::Get(),
      [&hub, &follower](const std::string& tenant, const std::string& ledger,
                        std::shared_ptr<const kiln::metadata::v1::WatchEvent> event) {
        if (follower != nullptr) {
          follower->OnLocalCommit(tenant, ledger, std::move(event));
        } else {
          hub.Publish(tenant, ledger, event);
        }
      },
      absl::GetFlag(FLAGS_serve_recent_entries));
  if ((*kv)->shared()) {
    if (absl::GetFlag(FLAGS_shard_count) != 0) {
      Die("--shard_count must be 0 with a shared backend: every replica serves every ledger");
    }
    follower = std::make_unique<kiln::metadata::LogFollower>(
        store, hub, (*kv)->NewCommitHints(),
        kiln::metadata::LogFollowerOptions{.poll_interval =
                                               absl::GetFlag(FLAGS_watch_poll_interval)});
  }
  if (sealer->has_previous()) {
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
  auto shard = kiln::ShardOwnership::Parse(absl::GetFlag(FLAGS_shard_index),
                                           absl::GetFlag(FLAGS_shard_count));
  if (!shard.ok()) Die(std::string(shard.status().message()));
  options.shard = *shard;
  options.max_watch_queue = absl::GetFlag(FLAGS_max_watch_queue);
  kiln::metadata::MetadataServiceImpl service(options, store, hub, executor, metrics.registry(),
                                              follower.get());

  kiln::ServerOptions server_options;
  server_options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.max_receive_message_bytes = 64 << 20;
  kiln::AdminServiceImpl admin(
      absl::GetFlag(FLAGS_checkpoint_dir),
      [backend = &**kv](const std::string& dir) { return backend->Checkpoint(dir); }, executor);
  auto server = kiln::GrpcServer::Start(server_options, {&service, &admin}, metrics);
  if (!server.ok()) Die(std::string(server.status().message()));

  LOG(INFO) << "kiln-metadata serving gRPC on port " << (*server)->port() << ", metrics on port "
            << metrics.port() << ", backend " << backend_url.substr(0, backend_url.find('?'));
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  if (!ready_file.empty()) {
    absl::Status s = kiln::WriteReadyFile(
        ready_file, {{"grpc_port", (*server)->port()}, {"metrics_port", metrics.port()}});
    if (!s.ok()) Die(std::string(s.message()));
  }
  int sig = kiln::WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": draining in-flight RPCs";
  (*server)->Shutdown();
  executor.Shutdown();
  follower.reset();
  kv->reset();
  LOG(INFO) << "kiln-metadata stopped";
  return 0;
}
