// kiln-blockstore: the block-store service binary. The only place that reads flags and picks the
// concrete backend.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/admin_service.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/shards.h"
#include "glog/logging.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/blob_repair.h"
#include "services/blockstore/blockstore_service.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7101", "Address the gRPC server listens on.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9101",
          "Address of the Prometheus /metrics endpoint; empty disables it.");
ABSL_FLAG(std::string, backend, "",
          "Storage backend URL (required): rocksdb:///abs/path[?sync=false], memory://, or "
          "s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&path_style=true "
          "(credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or credentials_file=), or a "
          "composition: cache(FRONT, BACK[, max_bytes=N]), mirror(FIRST, SECOND).");
ABSL_FLAG(uint64_t, max_blob_bytes, 64ull << 20, "Largest blob accepted, in bytes.");
ABSL_FLAG(uint64_t, get_chunk_bytes, 64 << 10,
          "Bytes of blob data per Get stream message (1 KiB to 4 MiB).");
ABSL_FLAG(uint64_t, max_inflight_put_bytes, 1ull << 30,
          "Bytes of unfinished uploads held in memory at once before puts are refused.");
ABSL_FLAG(int, io_threads, 64,
          "Threads for storage I/O. Concurrent durable writes share fsyncs only when they run on "
          "different threads, so keep this at least the expected number of concurrent writers.");
ABSL_FLAG(uint64_t, max_queued_requests, 4096,
          "Requests waiting for an I/O thread before new ones get RESOURCE_EXHAUSTED.");
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

// Exits with a clear message on bad configuration (startup errors are fatal by policy).
[[noreturn]] void Die(const std::string& message) {
  std::cerr << "kiln-blockstore: " << message << std::endl;
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  kiln::BlockTerminationSignals();
  kiln::TuneMalloc();
  absl::SetProgramUsageMessage(
      "Kiln block-store: stores CAR and file blobs per tenant/ledger.\n"
      "  kiln-blockstore --backend=rocksdb:///var/lib/kiln/blockstore");
  absl::ParseCommandLine(argc, argv);
  kiln::InitLogging(argv[0]);

  const std::string backend_url = absl::GetFlag(FLAGS_backend);
  if (backend_url.empty()) {
    Die("--backend is required, e.g. --backend=rocksdb:///var/lib/kiln/blockstore or memory://");
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1) Die("--io_threads must be at least 1");
  if (absl::GetFlag(FLAGS_max_blob_bytes) == 0) Die("--max_blob_bytes must be positive");

  kiln::blockstore::BlockStoreServiceOptions service_options;
  auto shard = kiln::ShardOwnership::Parse(absl::GetFlag(FLAGS_shard_index),
                                           absl::GetFlag(FLAGS_shard_count));
  if (!shard.ok()) Die(std::string(shard.status().message()));
  service_options.shard = *shard;
  service_options.max_blob_bytes = absl::GetFlag(FLAGS_max_blob_bytes);
  service_options.max_inflight_put_bytes = absl::GetFlag(FLAGS_max_inflight_put_bytes);
  service_options.get_chunk_bytes = absl::GetFlag(FLAGS_get_chunk_bytes);
  if (service_options.get_chunk_bytes < 1024 || service_options.get_chunk_bytes > (4 << 20)) {
    Die("--get_chunk_bytes must be between 1024 and 4194304");
  }

  kiln::ServerOptions server_options;
  server_options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  // Put chunks are small, but leave room for a client that sends a blob in one message.
  server_options.max_receive_message_bytes =
      static_cast<int>(std::min<uint64_t>(service_options.max_blob_bytes + (1 << 20), 1u << 30));

  auto backend = kiln::blockstore::CreateBlockBackend(backend_url);
  if (!backend.ok()) Die(std::string(backend.status().message()));

  kiln::Metrics metrics;
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    absl::Status s = metrics.Serve(metrics_address);
    if (!s.ok()) Die(std::string(s.message()));
  }
  std::shared_ptr<prometheus::Collectable> engine_stats = (*backend)->StatsCollector();
  if (engine_stats != nullptr) metrics.AddCollectable(engine_stats);

  kiln::BoundedExecutor executor(
      {.threads = absl::GetFlag(FLAGS_io_threads),
       .max_queued = static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_requests))});
  kiln::blockstore::BlockStoreServiceImpl service(service_options, **backend, executor,
                                                  metrics.registry());
  kiln::AdminServiceImpl admin(
      absl::GetFlag(FLAGS_checkpoint_dir),
      [store = &**backend](const std::string& dir) { return store->Checkpoint(dir); }, executor,
      [store = &**backend](const kiln::admin::v1::RepairBlobsRequest& request) {
        return kiln::blockstore::RepairLedgerBlobs(*store, request);
      });
  auto server = kiln::GrpcServer::Start(server_options, {&service, &admin}, metrics);
  if (!server.ok()) Die(std::string(server.status().message()));

  LOG(INFO) << "kiln-blockstore serving gRPC on port " << (*server)->port() << ", metrics on port "
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
  backend->reset();
  LOG(INFO) << "kiln-blockstore stopped";
  return 0;
}
