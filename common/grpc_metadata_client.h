// The gRPC MetadataClient (common/metadata_client.h) that kiln-merge and kiln-edge use: each call
// goes to the metadata shard of its request's ledger with the deadline; stubs are made once per
// shard. Thread-safe.
#pragma once

#include "absl/time/time.h"
#include "common/metadata_client.h"
#include "common/sharded_calls.h"
#include "common/shards.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln {

class GrpcMetadataClient final : public MetadataClient {
 public:
  GrpcMetadataClient(const ShardedChannels& shards, absl::Duration deadline);

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override;
  void Commit(metadata::v1::CommitRequest request,
              Callback<metadata::v1::CommitResponse> done) override;

 private:
  ShardedCalls<metadata::v1::MetadataService> calls_;
};

}  // namespace kiln
