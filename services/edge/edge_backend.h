// The edge's view of the mesh: meta puts go to merge, ledger reads to metadata. The gRPC
// implementation is in edge_backend.cc; tests may substitute fakes. `done` runs on a gRPC thread.
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "common/async_call.h"
#include "common/metadata_client.h"
#include "common/shards.h"
#include "grpcpp/channel.h"
#include "kiln/merge/v1/merge.pb.h"

namespace kiln::edge {

// Ledger reads (GetLedger, with its status codes) come from MetadataReader.
class EdgeBackend : public MetadataReader {
 public:
  // Commits meta entries through merge. `done` gets the new version and heads, or
  // INVALID_ARGUMENT (a bad id or entry, named), FAILED_PRECONDITION (an entry names a CAR the
  // block-store lacks), ABORTED (the ledger stayed too contended; retry), UNAVAILABLE (merge or
  // a peer of it did not answer in time).
  virtual void PutMeta(merge::v1::PutMetaRequest request,
                       Callback<merge::v1::PutMetaResponse> done) = 0;
};

// Puts go to any merge replica (`merge` balances over them); ledger reads go to the ledger's
// metadata shard.
std::unique_ptr<EdgeBackend> NewGrpcEdgeBackend(std::shared_ptr<grpc::Channel> merge,
                                                const ShardedChannels& metadata,
                                                absl::Duration deadline);

}  // namespace kiln::edge
