// kiln-blockstore: the block-store service binary. The only place that reads flags and picks the
// concrete backend.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/admin_service.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/shards.h"
#include "glog/logging.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/blob_repair.h"
#include "services/blockstore/blockstore_service.h"

KILN_DEFINE_SERVICE_FLAGS("127.0.0.1:7101", kiln::kGrpcAddressHelp, "127.0.0.1:9101");
ABSL_FLAG(
    std::string, backend, "",
    "Storage backend URL (required): rocksdb:///abs/path[?sync=false], memory://, or "
    "s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&path_style=true "
    "(credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or credentials_file=), or a "
    "composition: cache(FRONT, BACK[, max_bytes=N][, max_blob_bytes=M]), mirror(FIRST, SECOND).");
ABSL_FLAG(uint64_t, max_blob_bytes, 64ull << 20, "Largest blob accepted, in bytes.");
ABSL_FLAG(uint64_t, get_chunk_bytes, 64 << 10,
          "Bytes of blob data per Get stream message (1 KiB to 4 MiB).");
ABSL_FLAG(uint64_t, max_inflight_put_bytes, 1ull << 30,
          "Bytes of unfinished uploads held in memory at once before puts are refused.");
ABSL_FLAG(int, io_threads, 64,
          "Threads for storage I/O. Concurrent durable writes share fsyncs only when they run on "
          "different threads, so keep this at least the expected number of concurrent writers.");
ABSL_FLAG(uint64_t, max_queued_requests, 4096, kiln::kMaxQueuedRequestsHelp);
ABSL_FLAG(std::string, shard_index, "0", kiln::kShardIndexHelp);
ABSL_FLAG(int64_t, shard_count, 0, kiln::kShardCountHelp);
ABSL_FLAG(std::string, checkpoint_dir, "", kiln::kCheckpointDirHelp);

// The --help text.
constexpr char kUsage[] =
    "Kiln block-store: stores CAR and file blobs per tenant/ledger.\n"
    "  kiln-blockstore --backend=rocksdb:///var/lib/kiln/blockstore";

int main(int argc, char** argv) {
  kiln::StartServiceProcess(argc, argv, {.usage = kUsage});

  kiln::ServiceConfig config = KILN_SERVICE_CONFIG_FROM_FLAGS("kiln-blockstore");
  const std::string backend_url = absl::GetFlag(FLAGS_backend);
  kiln::blockstore::BlockStoreServiceOptions service_options;
  service_options.max_blob_bytes = absl::GetFlag(FLAGS_max_blob_bytes);
  service_options.max_inflight_put_bytes = absl::GetFlag(FLAGS_max_inflight_put_bytes);
  service_options.get_chunk_bytes = absl::GetFlag(FLAGS_get_chunk_bytes);
  // Put chunks are small, but leave room for a client that sends a blob in one message.
  config.grpc.max_receive_message_bytes =
      static_cast<int>(std::min<uint64_t>(service_options.max_blob_bytes + (1 << 20), 1u << 30));
  kiln::ServiceMain process(std::move(config));

  if (backend_url.empty()) {
    process.Die(
        "--backend is required, e.g. --backend=rocksdb:///var/lib/kiln/blockstore or memory://");
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1) process.Die("--io_threads must be at least 1");
  if (service_options.max_blob_bytes == 0) process.Die("--max_blob_bytes must be positive");
  service_options.shard = process.ValueOrDie(kiln::ShardOwnership::Parse(
      absl::GetFlag(FLAGS_shard_index), absl::GetFlag(FLAGS_shard_count)));
  if (service_options.get_chunk_bytes < 1024 || service_options.get_chunk_bytes > (4 << 20)) {
    process.Die("--get_chunk_bytes must be between 1024 and 4194304");
  }

  std::unique_ptr<kiln::blockstore::BlockBackend> backend =
      process.ValueOrDie(kiln::blockstore::CreateBlockBackend(backend_url));
  process.ServeMetrics();
  std::shared_ptr<prometheus::Collectable> engine_stats = backend->StatsCollector();
  if (engine_stats != nullptr) process.metrics().AddCollectable(engine_stats);

  kiln::BoundedExecutor executor(
      {.threads = absl::GetFlag(FLAGS_io_threads),
       .max_queued = static_cast<size_t>(absl::GetFlag(FLAGS_max_queued_requests))});
  kiln::blockstore::BlockStoreServiceImpl service(service_options, *backend, executor,
                                                  process.metrics().registry());
  kiln::AdminServiceImpl admin(
      absl::GetFlag(FLAGS_checkpoint_dir),
      [store = backend.get()](const std::string& dir) { return store->Checkpoint(dir); }, executor,
      [store = backend.get()](const kiln::admin::v1::RepairBlobsRequest& request) {
        return kiln::blockstore::RepairLedgerBlobs(*store, request);
      });
  process.StartGrpc({&service, &admin},
                    ", backend " + backend_url.substr(0, backend_url.find('?')));
  return process.RunUntilSignal({[&] { executor.Shutdown(); }, [&] { backend.reset(); }});
}
