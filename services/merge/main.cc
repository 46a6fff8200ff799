// kiln-merge: validates meta entries and advances ledger heads. The only place that reads flags.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_metadata_client.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "glog/logging.h"
#include "services/merge/grpc_peers.h"
#include "services/merge/merge_service.h"

KILN_DEFINE_SERVICE_FLAGS("127.0.0.1:7103", kiln::kGrpcAddressHelp, "127.0.0.1:9103");
ABSL_FLAG(std::string, blockstore_target, "127.0.0.1:7101",
          "gRPC targets of the block-store shards, comma-separated in shard order (the position "
          "is the shard's identity: append new shards at the end). Must equal kiln-edge's.");
ABSL_FLAG(std::string, metadata_target, "127.0.0.1:7102",
          "gRPC targets of the metadata shards, comma-separated in shard order, as for "
          "--blockstore_target. Must equal kiln-edge's.");
ABSL_FLAG(absl::Duration, peer_deadline, absl::Seconds(5), "Deadline of each call to a peer.");
ABSL_FLAG(int, max_commit_attempts, 32,
          "Compare-and-set attempts per meta put before it fails with ABORTED.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "Callers (edges) are asked to reconnect after this long, which makes them re-resolve "
          "the merge Service's DNS name and spread calls over replicas added since; 0 disables.");

// The --help text.
constexpr char kUsage[] =
    "Kiln merge: validates meta entries and advances ledger heads.\n"
    "  kiln-merge --blockstore_target=127.0.0.1:7101 --metadata_target=127.0.0.1:7102";

int main(int argc, char** argv) {
  kiln::StartServiceProcess(argc, argv, {.usage = kUsage});

  kiln::ServiceConfig config = KILN_SERVICE_CONFIG_FROM_FLAGS("kiln-merge");
  config.grpc.max_receive_message_bytes = 64 << 20;
  config.grpc.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  kiln::ServiceMain process(std::move(config));

  kiln::ShardedChannels blockstore_shards = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target"));
  kiln::ShardedChannels metadata_shards = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "metadata_target"));
  if (absl::GetFlag(FLAGS_max_commit_attempts) < 1) {
    process.Die("--max_commit_attempts must be >= 1");
  }

  process.ServeMetrics();
  absl::Duration deadline = absl::GetFlag(FLAGS_peer_deadline);
  auto blockstore = kiln::merge::NewGrpcBlockStoreClient(blockstore_shards, deadline);
  auto metadata = std::make_unique<kiln::GrpcMetadataClient>(metadata_shards, deadline);
  kiln::merge::MergeServiceOptions options;
  options.max_commit_attempts = absl::GetFlag(FLAGS_max_commit_attempts);
  kiln::merge::MergeServiceImpl service(options, *blockstore, *metadata,
                                        process.metrics().registry());
  process.StartGrpc({&service}, absl::StrCat(", ", metadata_shards.size(), " metadata and ",
                                             blockstore_shards.size(), " block-store shard(s)"));
  return process.RunUntilSignal();
}
