// gRPC implementations of the merge service's peers. Stubs are made once per channel; every call
// carries a deadline. Thread-safe.
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "services/merge/peers.h"

namespace kiln::merge {

std::unique_ptr<BlockStoreClient> NewGrpcBlockStoreClient(std::shared_ptr<grpc::Channel> channel,
                                                          absl::Duration deadline);
std::unique_ptr<MetadataClient> NewGrpcMetadataClient(std::shared_ptr<grpc::Channel> channel,
                                                      absl::Duration deadline);

}  // namespace kiln::merge
