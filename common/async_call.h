// Asynchronous unary gRPC calls with absl::StatusOr callbacks, for services that call peers from
// reactions (callback API; nothing blocks). Header-only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "grpcpp/client_context.h"

namespace kiln {

// Receives a call's result; runs on a gRPC callback thread and must not block.
template <typename T>
using Callback = absl::AnyInvocable<void(absl::StatusOr<T>)>;

// A peer's transport failure is the caller's UNAVAILABLE: a timeout or cancellation becomes
// UNAVAILABLE naming `peer`; other statuses pass through.
inline absl::Status PeerError(const grpc::Status& status, absl::string_view peer) {
  absl::Status s = FromGrpcStatus(status);
  if (s.code() == absl::StatusCode::kDeadlineExceeded || s.code() == absl::StatusCode::kCancelled) {
    return absl::UnavailableError(absl::StrCat(peer, " did not answer in time"));
  }
  if (s.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(absl::StrCat(peer, " is unavailable: ", s.message()));
  }
  return s;
}

// Calls `method` (e.g. &Stub::async::GetLedger) on `async` with `request` and `deadline`; `done`
// gets the response or PeerError(status, peer).
template <typename Async, typename Req, typename Resp>
void CallUnary(Async* async,
               void (Async::*method)(grpc::ClientContext*, const Req*, Resp*,
                                     std::function<void(grpc::Status)>),
               Req request, absl::Duration deadline, std::string peer, Callback<Resp> done) {
  struct Call {
    grpc::ClientContext context;
    Req request;
    Resp response;
    std::string peer;
    Callback<Resp> done;  // gRPC's callback must be copyable, so the move-only one lives here
  };
  auto* call = new Call{{}, std::move(request), {}, std::move(peer), std::move(done)};
  call->context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoMilliseconds(deadline));
  (async->*method)(&call->context, &call->request, &call->response, [call](grpc::Status status) {
    std::unique_ptr<Call> owned(call);
    if (!status.ok()) {
      owned->done(PeerError(status, owned->peer));
    } else {
      owned->done(std::move(owned->response));
    }
  });
}

}  // namespace kiln
