// The metadata service as its peers call it: merge reads and commits ledgers, the edge reads
// them. Each call goes to the metadata shard of its request's ledger. The gRPC implementation is
// GrpcMetadataClient (common/grpc_metadata_client.h); tests substitute fakes. Calls are
// asynchronous: `done` runs on a gRPC callback thread (or inline on immediate failure) and must
// not block. Thread-safe.
#pragma once

#include "common/async_call.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln {

// Ledger reads.
class MetadataReader {
 public:
  virtual ~MetadataReader() = default;
  // The ledger's state (an unknown ledger is empty, version 0, not an error) with the requested
  // probes; or INVALID_ARGUMENT (a bad id, too many probes), FAILED_PRECONDITION (the shard does
  // not own the ledger), UNAVAILABLE (no answer in time); metadata's storage errors pass through.
  virtual void GetLedger(metadata::v1::GetLedgerRequest request,
                         Callback<metadata::v1::GetLedgerResponse> done) = 0;
};

// Ledger reads and commits.
class MetadataClient : public MetadataReader {
 public:
  // ABORTED when expected_version is stale; INVALID_ARGUMENT, FAILED_PRECONDITION and
  // UNAVAILABLE as for GetLedger.
  virtual void Commit(metadata::v1::CommitRequest request,
                      Callback<metadata::v1::CommitResponse> done) = 0;
};

}  // namespace kiln
