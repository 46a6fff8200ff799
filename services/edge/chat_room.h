// The protocol's chat room (reqOpen joins, reqClose leaves, reqChat broadcasts): a test feature of
// the Fireproof cloud protocol, kept per edge. With tokens, a message reaches only connections that
// share a tenant with its sender, so chat never crosses tenants.
//
// Threading: thread-safe; Broadcast queues pushes (ClientSession::Push never blocks).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/json/array.hpp"
#include "services/edge/auth.h"
#include "services/edge/messages.h"
#include "services/edge/session.h"

namespace kiln::edge {

class ChatRoom {
 public:
  // `session` (opened by `principal`) hears later broadcasts until it leaves or closes.
  void Join(const std::shared_ptr<ClientSession>& session, const Principal& principal);
  void Leave(ClientSession* session);

  // Sends `resChat` with text "[<sender reqId>]: <message>" to every other member that may hear
  // `sender` (each with its own conn), and returns the sender's reply ("ack: <message>"). Both list
  // the members reached, sender included, in `targets`.
  boost::json::object Broadcast(const Message& chat, const std::shared_ptr<ClientSession>& sender,
                                const Principal& sender_principal);

 private:
  struct Member {
    std::weak_ptr<ClientSession> session;
    Principal principal;
  };

  absl::Mutex mu_;
  // Entries of closed connections expire and are swept as the room grows.
  absl::flat_hash_map<ClientSession*, Member> members_ ABSL_GUARDED_BY(mu_);
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = 64;
};

}  // namespace kiln::edge
