// The Fireproof cloud protocol, independent of transport: one JSON message in, one JSON reply out
// (asynchronously), for both `PUT /fp` and WebSocket frames. See
// shared/docs/fireproof-cloud-protocol.md for every message and quirk.
//
// Threading: Handle may be called from any thread; `done` runs on the calling thread or on a gRPC
// callback thread, exactly once, and must not block.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "boost/json/object.hpp"
#include "common/clock.h"
#include "common/counter_table.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/edge/auth.h"
#include "services/edge/chat_room.h"
#include "services/edge/direct_blob_urls.h"
#include "services/edge/edge_backend.h"
#include "services/edge/followers.h"
#include "services/edge/message_handler.h"
#include "services/edge/messages.h"
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

  // Decodes `message` (messages.h), authenticates it, checks access to its ledger and hands it
  // to the handler for its type. Every refusal is an `error` reply (HTTP 500) that names the
  // reason and echoes only the request's tid and type.
  void Handle(boost::json::object message, const std::shared_ptr<ClientSession>& session,
              Done done) override;
  Reply BadJson(const std::string& why) override;

 private:
  // One decoded, authenticated request on its way through a handler.
  struct Call {
    Message msg;
    Principal principal;
    std::shared_ptr<ClientSession> session;  // nullptr over HTTP
    Done done;
    LedgerRef ledger;  // ledger messages only: checked against the token
  };
  using Handler = void (Dispatcher::*)(Call call);

  // Connection management (no ledger).
  void HandleGestalt(Call call);
  void HandleOpen(Call call);
  void HandleClose(Call call);
  void HandleChat(Call call);
  // Ledger messages.
  void HandleGetMeta(Call call);  // bindGetMeta and reqGetMeta
  void HandlePutMeta(Call call);
  void HandleDelMeta(Call call);
  void HandleBlobUrl(Call call);  // data and WAL: a signed URL

  // The handler for each message type, indexed by MsgType.
  static const std::array<Handler, kMsgTypeCount>& Handlers();

  void Succeed(Call& call, boost::json::object reply);
  void Fail(Call& call, const absl::Status& status);
  Reply Error(const ErrorSource& src, const absl::Status& status);
  void Count(absl::string_view type, bool ok);
  // The conn to put in a reply: the WebSocket's agreed ids, else the request's, else none.
  static std::optional<Conn> ReplyConn(const Call& call);

  // Serves `session` the ledger afresh as an eventGetMeta push shaped like its `bind` (after its
  // pushes were withheld for an expired token).
  void ServeAgain(const LedgerRef& ledger, const std::shared_ptr<ClientSession>& session,
                  Message bind);

  const DispatcherOptions options_;
  const Authenticator& auth_;
  const UrlSigner& signer_;
  EdgeBackend& backend_;
  LedgerFollowers& followers_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>* messages_;
  // kiln_edge_messages_total by (type, outcome): index 2 * type + (ok ? 0 : 1), where type
  // kMsgTypeCount is "unknown".
  std::unique_ptr<CounterTable<2 * (kMsgTypeCount + 1)>> message_counts_;
  prometheus::Counter* refused_unauthenticated_;
  prometheus::Counter* refused_permission_denied_;
  // What each HTTP-polling connection was last sent.
  PollCursors poll_cursors_{clock_};
  ChatRoom chat_;
};

}  // namespace kiln::edge
