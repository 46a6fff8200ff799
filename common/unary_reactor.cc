#include "common/unary_reactor.h"

#include <utility>

#include "common/grpc_status.h"

namespace kiln {

void RunUnary(BoundedExecutor& executor, grpc::ServerUnaryReactor* reactor, absl::Status valid,
              absl::AnyInvocable<absl::Status()> work,
              absl::AnyInvocable<void(const absl::Status&)> observe) {
  if (!valid.ok()) {
    reactor->Finish(ToGrpcStatus(valid));
    return;
  }
  absl::Status submitted =
      executor.TrySubmit([reactor, work = std::move(work), observe = std::move(observe)]() mutable {
        absl::Status status = work();
        if (observe) observe(status);
        reactor->Finish(ToGrpcStatus(status));
      });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
}

}  // namespace kiln
