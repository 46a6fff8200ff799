// The one way the storage services (block-store, metadata) and kiln-control answer a unary gRPC
// call: the blocking work runs on the bounded executor (common/executor.h) and the reactor is
// finished from there with the work's status.
//
// Threading: call from the reaction; it never blocks. `work` and `observe` run on an executor
// thread.
#pragma once

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/executor.h"
#include "grpcpp/support/server_callback.h"

namespace kiln {

// Finishes `reactor` with `valid` when that is not OK, queueing nothing. Otherwise queues `work`
// on `executor` and finishes `reactor` with the status `work` returns, after `observe` (when set)
// has seen that status (metrics, logging). When the executor refuses the work, `reactor`
// finishes with RESOURCE_EXHAUSTED (queue full) or UNAVAILABLE (shutting down) and neither
// `work` nor `observe` runs.
void RunUnary(BoundedExecutor& executor, grpc::ServerUnaryReactor* reactor, absl::Status valid,
              absl::AnyInvocable<absl::Status()> work,
              absl::AnyInvocable<void(const absl::Status&)> observe = nullptr);

}  // namespace kiln
