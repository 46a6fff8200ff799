// The one conversion point between absl::Status and grpc::Status. Codes map one to one (both use
// the canonical gRPC code numbering); messages are passed through unchanged.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kiln {

// absl -> gRPC, for finishing RPCs.
grpc::Status ToGrpcStatus(const absl::Status& status);

// gRPC -> absl, for results of client calls.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kiln
