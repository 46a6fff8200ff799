// kiln-merge: validates meta entries and advances ledger heads. The only place that reads flags.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/server.h"
#include "glog/logging.h"
#include "services/merge/grpc_peers.h"
#include "services/merge/merge_service.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7103", "Address the gRPC server listens on.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9103",
          "Address of the Prometheus /metrics endpoint; empty disables it.");
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
ABSL_FLAG(std::string, ready_file, "",
          "When set, the chosen ports are written here once the server is serving.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight RPCs may run after SIGTERM before they are cancelled.");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "kiln-merge: " << message << std::endl;
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  kiln::BlockTerminationSignals();
  kiln::TuneMalloc();
  absl::SetProgramUsageMessage(
      "Kiln merge: validates meta entries and advances ledger heads.\n"
      "  kiln-merge --blockstore_target=127.0.0.1:7101 --metadata_target=127.0.0.1:7102");
  absl::ParseCommandLine(argc, argv);
  kiln::InitLogging(argv[0]);
  auto blockstore_shards =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target");
  if (!blockstore_shards.ok()) Die(std::string(blockstore_shards.status().message()));
  auto metadata_shards =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "metadata_target");
  if (!metadata_shards.ok()) Die(std::string(metadata_shards.status().message()));
  if (absl::GetFlag(FLAGS_max_commit_attempts) < 1) Die("--max_commit_attempts must be >= 1");

  kiln::Metrics metrics;
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    absl::Status s = metrics.Serve(metrics_address);
    if (!s.ok()) Die(std::string(s.message()));
  }
  absl::Duration deadline = absl::GetFlag(FLAGS_peer_deadline);
  auto blockstore = kiln::merge::NewGrpcBlockStoreClient(*blockstore_shards, deadline);
  auto metadata = kiln::merge::NewGrpcMetadataClient(*metadata_shards, deadline);
  kiln::merge::MergeServiceOptions options;
  options.max_commit_attempts = absl::GetFlag(FLAGS_max_commit_attempts);
  kiln::merge::MergeServiceImpl service(options, *blockstore, *metadata, metrics.registry());

  kiln::ServerOptions server_options;
  server_options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.max_receive_message_bytes = 64 << 20;
  server_options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  auto server = kiln::GrpcServer::Start(server_options, {&service}, metrics);
  if (!server.ok()) Die(std::string(server.status().message()));
  LOG(INFO) << "kiln-merge serving gRPC on port " << (*server)->port() << ", metrics on port "
            << metrics.port() << ", " << metadata_shards->size() << " metadata and "
            << blockstore_shards->size() << " block-store shard(s)";
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  if (!ready_file.empty()) {
    absl::Status s = kiln::WriteReadyFile(
        ready_file, {{"grpc_port", (*server)->port()}, {"metrics_port", metrics.port()}});
    if (!s.ok()) Die(std::string(s.message()));
  }
  int sig = kiln::WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": draining in-flight RPCs";
  (*server)->Shutdown();
  LOG(INFO) << "kiln-merge stopped";
  return 0;
}
