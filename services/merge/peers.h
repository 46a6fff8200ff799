// The merge service's view of its peers. The gRPC implementations are in grpc_peers.h; tests may
// substitute fakes. Calls are asynchronous: `done` runs on a gRPC callback thread (or inline on
// immediate failure) and must not block.
#pragma once

#include <string>
#include <vector>

#include "common/async_call.h"
#include "common/ledger_ref.h"
#include "kiln/metadata/v1/metadata.pb.h"

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

class MetadataClient {
 public:
  virtual ~MetadataClient() = default;
  // The ledger's state (an unknown ledger is empty, version 0) with the requested probes; or
  // INVALID_ARGUMENT (a bad id, too many probes), FAILED_PRECONDITION (the shard does not own
  // the ledger), UNAVAILABLE (no answer in time); metadata's storage errors pass through.
  virtual void GetLedger(metadata::v1::GetLedgerRequest request,
                         Callback<metadata::v1::GetLedgerResponse> done) = 0;
  // ABORTED when expected_version is stale; INVALID_ARGUMENT, FAILED_PRECONDITION and
  // UNAVAILABLE as for GetLedger.
  virtual void Commit(metadata::v1::CommitRequest request,
                      Callback<metadata::v1::CommitResponse> done) = 0;
};

}  // namespace kiln::merge
