// kiln-admin: the operator's command line for kiln.admin.v1.AdminService.
//   kiln-admin checkpoint --target=kiln-metadata-0.kiln-metadata:7102 --name=nightly-2026-11-26
// prints the checkpoint's path on the service's filesystem;
//   kiln-admin blobs repair --target=kiln-blockstore:7101 --tenant=T --ledger=L [--store=car]
// fills in what one store of a mirror(...) block backend lacks (services/admin/blobs_repair.h).
// Exit status 0 on success, 1 when the service refuses (the message says why), 2 for bad usage.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/shards.h"
#include "kiln/admin/v1/admin.grpc.pb.h"
#include "services/admin/blobs_repair.h"

ABSL_FLAG(std::string, target, "", "gRPC target of a kiln-metadata or kiln-blockstore process.");
ABSL_FLAG(std::string, name, "",
          "Checkpoint name (directory under the service's --checkpoint_dir).");
ABSL_FLAG(std::string, tenant, "", "blobs repair: tenant id of the ledger.");
ABSL_FLAG(std::string, ledger, "", "blobs repair: ledger id.");
ABSL_FLAG(std::string, store, "", "blobs repair: car, file, meta or wal; empty for all four.");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(10), "How long to wait for the service.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Kiln admin commands.\n"
      "  kiln-admin checkpoint --target=HOST:PORT --name=NAME   RocksDB checkpoint of a shard\n"
      "  kiln-admin blobs repair --target=HOST:PORT --tenant=T --ledger=L [--store=S]\n"
      "                                                  copy what one mirrored store lacks");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() == 3 && std::string(args[1]) == "blobs" && std::string(args[2]) == "repair") {
    return kiln::admin_cli::RunBlobsRepair(
        {absl::GetFlag(FLAGS_target), absl::GetFlag(FLAGS_tenant), absl::GetFlag(FLAGS_ledger),
         absl::GetFlag(FLAGS_store), absl::GetFlag(FLAGS_timeout)},
        std::cout, std::cerr);
  }
  if (args.size() != 2 || std::string(args[1]) != "checkpoint") {
    std::cerr << "usage: kiln-admin checkpoint --target=HOST:PORT --name=NAME\n"
                 "       kiln-admin blobs repair --target=HOST:PORT --tenant=T --ledger=L "
                 "[--store=S]"
              << std::endl;
    return 2;
  }
  if (absl::GetFlag(FLAGS_target).empty() || absl::GetFlag(FLAGS_name).empty()) {
    std::cerr << "kiln-admin: --target and --name are required" << std::endl;
    return 2;
  }
  auto stub =
      kiln::admin::v1::AdminService::NewStub(kiln::NewPeerChannel(absl::GetFlag(FLAGS_target)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_timeout)));
  kiln::admin::v1::CreateCheckpointRequest request;
  request.set_name(absl::GetFlag(FLAGS_name));
  kiln::admin::v1::CreateCheckpointResponse response;
  grpc::Status s = stub->CreateCheckpoint(&context, request, &response);
  if (!s.ok()) {
    std::cerr << "kiln-admin: checkpoint failed: " << s.error_message() << " (code "
              << static_cast<int>(s.error_code()) << ")" << std::endl;
    return 1;
  }
  std::cout << response.path() << std::endl;
  return 0;
}
