// The Fireproof cloud protocol, independent of transport: one JSON message in, one JSON reply out
// (asynchronously), for both `PUT /fp` and WebSocket frames. See
// shared/docs/fireproof-cloud-protocol.md for every message and quirk.
//
// Threading: Handle may be called from any thread; `done` runs on the calling thread or on a gRPC
// callback thread, exactly once, and must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/json/object.hpp"
#include "common/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/edge/auth.h"
#include "services/edge/direct_blob_urls.h"
#include "services/edge/edge_backend.h"
#include "services/edge/followers.h"
#include "services/edge/message_handler.h"
#include "services/edge/poll_cursors.h"
#include "services/edge/session.h"
#include "services/edge/signed_url.h"

namespace kiln::edge {

struct DispatcherOptions {
  // How long signed blob URLs stay valid unless the request asks for less.
  absl::Duration url_lifetime = absl::Hours(1);
  // Offer "stream" (WebSocket) in the gestalt. Without it the client uses HTTP request/response
  // only and polls bindGetMeta through PUT /fp every second.
  bool offer_stream = true;
  // The path prefix clients reach the edge under (base_path.h); the gestalt's endpoints start
  // with it.
  std::string base_path;
  // When set (block-store on S3), data URLs point straight at the object store; not owned.
  const DirectBlobUrls* direct_blob_urls = nullptr;
};

class Dispatcher : public MessageHandler {
 public:
  // Dependencies are not owned and must outlive the dispatcher.
  Dispatcher(const DispatcherOptions& options, const Authenticator& auth, const UrlSigner& signer,
             EdgeBackend& backend, LedgerFollowers& followers, const Clock& clock,
             prometheus::Registry& registry);

  void Handle(boost::json::object message, const std::shared_ptr<ClientSession>& session,
              Done done) override;
  Reply BadJson(const std::string& why) override;

 private:
  Reply Error(const boost::json::object& src, const std::string& message, absl::StatusCode code);
  void Count(const std::string& type, bool ok);
  // reqChat: sends `resChat` to every other open WebSocket connection of this edge that may hear
  // the sender (each with its own conn) and returns the sender's "ack" reply; `targets` lists
  // those connections. With tokens, only connections sharing a tenant with the sender hear it.
  boost::json::object Chat(const boost::json::object& msg,
                           const std::shared_ptr<ClientSession>& sender,
                           const Principal& sender_principal);

  // Serves `session` the ledger afresh as an eventGetMeta push shaped like its `bind` (after its
  // pushes were withheld for an expired token).
  void ServeAgain(const std::string& tenant, const std::string& ledger,
                  const std::shared_ptr<ClientSession>& session, boost::json::object bind);

  const DispatcherOptions options_;
  const Authenticator& auth_;
  const UrlSigner& signer_;
  EdgeBackend& backend_;
  LedgerFollowers& followers_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>* messages_;
  prometheus::Family<prometheus::Counter>* auth_refusals_;
  // What each HTTP-polling connection was last sent.
  PollCursors poll_cursors_{clock_};

  // WebSocket connections that sent reqOpen (the chat room), with who opened them. Entries of
  // closed connections expire and are swept as the room grows.
  struct RoomMember {
    std::weak_ptr<ClientSession> session;
    Principal principal;
  };
  absl::Mutex room_mu_;
  absl::flat_hash_map<ClientSession*, RoomMember> room_ ABSL_GUARDED_BY(room_mu_);
  size_t room_sweep_at_ ABSL_GUARDED_BY(room_mu_) = 64;
};

}  // namespace kiln::edge
