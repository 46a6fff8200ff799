// Unary gRPC calls to the shard that holds a ledger, as every sharded peer client makes them:
// one stub per shard made once (ShardedStubs), a deadline on every call, and the peer's name in
// the errors (PeerError). Thread-safe: nothing changes after construction.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "common/async_call.h"
#include "common/ledger_ref.h"
#include "common/shards.h"
#include "grpcpp/client_context.h"

namespace kiln {

template <typename Service>
class ShardedCalls {
 public:
  ShardedCalls(const ShardedChannels& shards, absl::Duration deadline, std::string peer)
      : stubs_(shards), deadline_(deadline), peer_(std::move(peer)) {}

  // Calls `method` (e.g. &Stub::async::GetLedger) on the stub of `ledger`'s shard with the
  // deadline; `done` gets the response or PeerError(status, peer).
  template <typename Async, typename Req, typename Resp>
  void Call(const LedgerRef& ledger,
            void (Async::*method)(grpc::ClientContext*, const Req*, Resp*,
                                  std::function<void(grpc::Status)>),
            Req request, Callback<Resp> done) const {
    CallUnary(stubs_.For(ledger)->async(), method, std::move(request), deadline_, peer_,
              std::move(done));
  }

  // The stub of `ledger`'s shard, for streaming calls.
  typename Service::Stub* StubFor(const LedgerRef& ledger) const { return stubs_.For(ledger); }

 private:
  ShardedStubs<Service> stubs_;
  absl::Duration deadline_;
  std::string peer_;
};

}  // namespace kiln
