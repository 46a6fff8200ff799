// gRPC implementation of the merge service's block-store peer (the metadata one is
// common/metadata_client.h's). Stubs are made once per shard; every call carries a deadline.
// Thread-safe.
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "common/shards.h"
#include "services/merge/peers.h"

namespace kiln::merge {

// Each call goes to the shard that holds its (tenant, ledger).
std::unique_ptr<BlockStoreClient> NewGrpcBlockStoreClient(const ShardedChannels& shards,
                                                          absl::Duration deadline);

}  // namespace kiln::merge
