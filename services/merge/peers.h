// The merge service's view of its peers: the block-store here, metadata as the MetadataClient of
// common/metadata_client.h. The gRPC implementations are in grpc_peers.h and
// common/grpc_metadata_client.h; tests may substitute fakes. Calls are asynchronous: `done` runs on
// a gRPC callback thread (or inline on immediate failure) and must not block.
#pragma once

#include <string>
#include <vector>

#include "common/async_call.h"
#include "common/ledger_ref.h"
#include "common/metadata_client.h"

namespace kiln::merge {

class BlockStoreClient {
 public:
  virtual ~BlockStoreClient() = default;
  // For each CAR key of `ledger`, whether the block-store holds it, in order; or
  // INVALID_ARGUMENT (a bad id or key), FAILED_PRECONDITION (the shard does not own the ledger),
  // UNAVAILABLE (no answer in time).
  virtual void HasCars(const LedgerRef& ledger, std::vector<std::string> keys,
                       Callback<std::vector<bool>> done) = 0;
};

}  // namespace kiln::merge
