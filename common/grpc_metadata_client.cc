#include "common/grpc_metadata_client.h"

#include <utility>

namespace kiln {

GrpcMetadataClient::GrpcMetadataClient(const ShardedChannels& shards, absl::Duration deadline)
    : calls_(shards, deadline, "metadata") {}

void GrpcMetadataClient::GetLedger(metadata::v1::GetLedgerRequest request,
                                   Callback<metadata::v1::GetLedgerResponse> done) {
  const LedgerRef ledger(request.tenant(), request.ledger());
  calls_.Call(ledger, &metadata::v1::MetadataService::Stub::async::GetLedger, std::move(request),
              std::move(done));
}

void GrpcMetadataClient::Commit(metadata::v1::CommitRequest request,
                                Callback<metadata::v1::CommitResponse> done) {
  const LedgerRef ledger(request.tenant(), request.ledger());
  calls_.Call(ledger, &metadata::v1::MetadataService::Stub::async::Commit, std::move(request),
              std::move(done));
}

}  // namespace kiln
