// One in-process merge service on a loopback port for integration tests, talking gRPC to the
// block-store and metadata targets it is given (the same clients kiln-merge uses). Used by
// tests/integration/mesh.h and the PostgreSQL replica mesh. Not thread-safe to build; its stub may
// be used from any thread.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/grpc_metadata_client.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/shards.h"
#include "kiln/merge/v1/merge.grpc.pb.h"
#include "services/merge/grpc_peers.h"
#include "services/merge/merge_service.h"
#include "tests/support/test_support.h"

namespace kiln::testing {

class MergeInstance {
 public:
  // Serves merge over `blockstore` and `metadata` (each call with a 10 s deadline).
  MergeInstance(const ShardedChannels& blockstore, const ShardedChannels& metadata)
      : blockstore_(merge::NewGrpcBlockStoreClient(blockstore, absl::Seconds(10))),
        metadata_(metadata, absl::Seconds(10)),
        service_(merge::MergeServiceOptions{}, *blockstore_, metadata_, metrics_.registry()),
        server_(*GrpcServer::Start(ServerOptions{}, {&service_}, metrics_)),
        stub_(merge::v1::MergeService::NewStub(
            LoopbackChannel("127.0.0.1:" + std::to_string(server_->port())))) {}

  // Stops serving (in-flight calls finish first); call before the peers go away.
  void Shutdown() { server_->Shutdown(); }

  merge::v1::MergeService::Stub& stub() { return *stub_; }
  Metrics& metrics() { return metrics_; }

 private:
  Metrics metrics_;
  std::unique_ptr<merge::BlockStoreClient> blockstore_;
  GrpcMetadataClient metadata_;
  merge::MergeServiceImpl service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<merge::v1::MergeService::Stub> stub_;
};

}  // namespace kiln::testing
