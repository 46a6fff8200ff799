#include "services/edge/dispatcher.h"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/json/serialize.hpp"
#include "common/log_limiter.h"
#include "common/sha256.h"
#include "glog/logging.h"

namespace kiln::edge {
namespace {

absl::StatusOr<std::string> RandomId() {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    return absl::UnavailableError("could not draw a random connection id; try again");
  }
  return "kiln-" + HexEncode(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
}

boost::json::object Gestalt(bool offer_stream, const std::string& base_path) {
  boost::json::array req_types, res_types;
  for (int i = 0; i < kMsgTypeCount; ++i) {
    auto type = static_cast<MsgType>(i);
    req_types.emplace_back(MsgTypeName(type));
    if (type != MsgType::kBindGetMeta) res_types.emplace_back(ReplyTypeName(type));
  }
  boost::json::object band{{"inband", true}, {"outband", true}};
  boost::json::array capabilities{"reqRes"}, ws_endpoints;
  if (offer_stream) {
    capabilities.emplace_back("stream");
    ws_endpoints.emplace_back(base_path + "/ws");
  }
  return boost::json::object{
      {"storeTypes", boost::json::array{"meta", "file", "car", "wal"}},
      {"id", "FP-Storage-Backend"},
      {"protocolCapabilities", std::move(capabilities)},
      {"httpEndpoints", boost::json::array{boost::json::string(base_path + "/fp")}},
      {"wsEndpoints", std::move(ws_endpoints)},
      {"encodings", boost::json::array{"JSON"}},
      {"auth", boost::json::array{}},
      {"requiresAuth", true},
      {"data", band},
      {"meta", band},
      {"wal", band},
      {"reqTypes", std::move(req_types)},
      {"resTypes", std::move(res_types)},
      {"eventTypes", boost::json::array{"eventGetMeta"}}};
}

// Messages about connections rather than a ledger.
bool IsConnectionMessage(MsgType type) {
  return type == MsgType::kReqGestalt || type == MsgType::kReqOpen || type == MsgType::kReqClose ||
         type == MsgType::kReqChat;
}

}  // namespace

Dispatcher::Dispatcher(const DispatcherOptions& options, const Authenticator& auth,
                       const UrlSigner& signer, EdgeBackend& backend, LedgerFollowers& followers,
                       const Clock& clock, prometheus::Registry& registry)
    : options_(options),
      auth_(auth),
      signer_(signer),
      backend_(backend),
      followers_(followers),
      clock_(clock) {
  messages_ = &prometheus::BuildCounter()
                   .Name("kiln_edge_messages_total")
                   .Help("Protocol messages handled, by type and outcome (ok or error).")
                   .Register(registry);
  message_counts_ = std::make_unique<CounterTable<2 * (kMsgTypeCount + 1)>>(
      *messages_, [](size_t i) -> prometheus::Labels {
        int type = static_cast<int>(i / 2);
        return {{"type", type < kMsgTypeCount ? std::string(MsgTypeName(static_cast<MsgType>(type)))
                                              : std::string("unknown")},
                {"outcome", i % 2 == 0 ? "ok" : "error"}};
      });
  auto& auth_refusals = prometheus::BuildCounter()
                            .Name("kiln_edge_auth_refusals_total")
                            .Help("Messages refused by authentication or authorization, by reason.")
                            .Register(registry);
  refused_unauthenticated_ = &auth_refusals.Add({{"reason", "unauthenticated"}});
  refused_permission_denied_ = &auth_refusals.Add({{"reason", "permission_denied"}});
}

const std::array<Dispatcher::Handler, kMsgTypeCount>& Dispatcher::Handlers() {
  static const std::array<Handler, kMsgTypeCount> kHandlers = [] {
    std::array<Handler, kMsgTypeCount> h{};
    auto set = [&h](MsgType t, Handler f) { h[static_cast<int>(t)] = f; };
    set(MsgType::kReqGestalt, &Dispatcher::HandleGestalt);
    set(MsgType::kReqOpen, &Dispatcher::HandleOpen);
    set(MsgType::kReqClose, &Dispatcher::HandleClose);
    set(MsgType::kReqChat, &Dispatcher::HandleChat);
    set(MsgType::kBindGetMeta, &Dispatcher::HandleGetMeta);
    set(MsgType::kReqGetMeta, &Dispatcher::HandleGetMeta);
    set(MsgType::kReqPutMeta, &Dispatcher::HandlePutMeta);
    set(MsgType::kReqDelMeta, &Dispatcher::HandleDelMeta);
    for (MsgType t : {MsgType::kReqPutData, MsgType::kReqGetData, MsgType::kReqDelData,
                      MsgType::kReqPutWAL, MsgType::kReqGetWAL, MsgType::kReqDelWAL}) {
      set(t, &Dispatcher::HandleBlobUrl);
    }
    return h;
  }();
  return kHandlers;
}

void Dispatcher::Handle(boost::json::object json, const std::shared_ptr<ClientSession>& session,
                        Done done) {
  absl::StatusOr<Message> msg = DecodeMessage(json);
  if (!msg.ok()) {
    ErrorSource src = ErrorSourceOf(json);
    Count(src.type, false);
    return done(Error(src, msg.status()));
  }
  Call call{*std::move(msg), Principal{}, session, std::move(done), LedgerRef()};
  absl::StatusOr<Principal> principal = auth_.Authenticate(call.msg.Token());
  if (!principal.ok()) return Fail(call, principal.status());
  call.principal = *std::move(principal);

  const MsgType type = call.msg.type;
  if (!IsConnectionMessage(type)) {
    call.ledger = LedgerRef(call.msg.Tenant(), call.msg.Ledger());
    if (call.ledger.tenant().empty() || call.ledger.ledger().empty()) {
      return Fail(call,
                  absl::InvalidArgumentError("message needs tenant.tenant and tenant.ledger"));
    }
    absl::Status access = CheckAccess(call.principal, call.ledger, IsWrite(type));
    if (!access.ok()) return Fail(call, access);
    if (session != nullptr && type != MsgType::kBindGetMeta) {
      // A valid token on a connection whose pushes stopped when its bind's token expired.
      if (auto bind = followers_.Renew(call.ledger, session.get(), call.principal.valid_until)) {
        ServeAgain(call.ledger, session, *std::move(bind));
      }
    }
  }
  (this->*Handlers()[static_cast<int>(type)])(std::move(call));
}

// ----- replies -----------------------------------------------------------------------------------

void Dispatcher::Count(absl::string_view type, bool ok) {
  std::optional<MsgType> known = ParseMsgType(type);
  size_t index = known.has_value() ? static_cast<size_t>(*known) : kMsgTypeCount;
  (*message_counts_)[2 * index + (ok ? 0 : 1)].Increment();
}

void Dispatcher::Succeed(Call& call, boost::json::object reply) {
  Count(MsgTypeName(call.msg.type), true);
  call.done(Reply{std::move(reply)});
}

void Dispatcher::Fail(Call& call, const absl::Status& status) {
  Count(MsgTypeName(call.msg.type), false);
  call.done(Error(ErrorSource{call.msg.tid, MsgTypeName(call.msg.type)}, status));
}

Reply Dispatcher::Error(const ErrorSource& src, const absl::Status& status) {
  // Every refused request is logged with its reason (never the token), at most 20 lines per 10 s.
  static LogLimiter* const limiter = new LogLimiter(20, absl::Seconds(10));
  const std::string message(status.message());
  if (uint64_t suppressed = 0; limiter->Allow(&suppressed)) {
    LOG(WARNING) << "refused " << (src.type.empty() ? "(no type)" : src.type.substr(0, 40)) << ": "
                 << absl::StatusCodeToString(status.code()) << ": " << message.substr(0, 300)
                 << (suppressed > 0 ? absl::StrCat(" (", suppressed, " refusals not logged)") : "");
  }
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    refused_unauthenticated_->Increment();
  } else if (status.code() == absl::StatusCode::kPermissionDenied) {
    refused_permission_denied_->Increment();
  }
  // Only the request's (bounded) tid and type come back: never its token or body. No `conn`
  // either: over WebSocket the client routes an error carrying its own conn into its bindGetMeta
  // stream and ends that stream, so one refused write would stop all later pushes.
  boost::json::object body{{"type", "error"},
                           {"tid", src.tid},
                           {"version", kMsgVersion},
                           {"src", boost::json::object{{"tid", src.tid}, {"type", src.type}}},
                           {"message", message}};
  if (status.code() == absl::StatusCode::kUnavailable) body["reason"] = "not-ready";
  return Reply{std::move(body), 500};
}

Reply Dispatcher::BadJson(const std::string& why) {
  Count("unknown", false);
  boost::json::object body{{"type", "error"},
                           {"tid", ""},
                           {"version", kMsgVersion},
                           {"src", "bad-json"},
                           {"message", "request body is not a JSON message: " + why}};
  return Reply{std::move(body), 400};
}

std::optional<Conn> Dispatcher::ReplyConn(const Call& call) {
  if (call.session != nullptr && !call.session->res_id().empty()) {
    return Conn{call.session->req_id(), call.session->res_id()};
  }
  return call.msg.conn;
}

// ----- connection messages -----------------------------------------------------------------------

void Dispatcher::HandleGestalt(Call call) {
  boost::json::object reply = EncodeEnvelope(call.msg, "resGestalt");
  reply["gestalt"] = Gestalt(options_.offer_stream, options_.base_path);
  Succeed(call, std::move(reply));
}

void Dispatcher::HandleOpen(Call call) {
  Conn conn = call.msg.conn.value_or(Conn{});
  if (conn.req_id.empty()) {
    return Fail(call, absl::InvalidArgumentError("reqOpen needs conn.reqId"));
  }
  if (conn.res_id.empty()) {  // keep a client-supplied resId (reconnects)
    absl::StatusOr<std::string> id = RandomId();
    if (!id.ok()) return Fail(call, id.status());
    conn.res_id = *std::move(id);
  }
  if (call.session != nullptr) {
    call.session->SetConn(conn.req_id, conn.res_id);
    chat_.Join(call.session, call.principal);
  }
  boost::json::object reply = EncodeEnvelope(call.msg, "resOpen");
  reply["conn"] = EncodeConn(conn);
  Succeed(call, std::move(reply));
}

void Dispatcher::HandleClose(Call call) {
  if (call.session != nullptr) {
    // A closed connection gets no more pushes and no chat (the socket may stay open).
    followers_.Unfollow(call.session.get());
    chat_.Leave(call.session.get());
  }
  Succeed(call, EncodeEnvelope(call.msg, "resClose"));
}

void Dispatcher::HandleChat(Call call) {
  boost::json::object reply = chat_.Broadcast(call.msg, call.session, call.principal);
  Succeed(call, std::move(reply));
}

// ----- ledger messages ---------------------------------------------------------------------------

void Dispatcher::HandleGetMeta(Call call) {
  const bool bind = call.msg.type == MsgType::kBindGetMeta;
  if (bind && call.session != nullptr) {
    // Follow first, then read: every change after the read is pushed, none is lost.
    followers_.Follow(call.ledger, call.session, call.msg, call.principal.valid_until);
  }
  metadata::v1::GetLedgerRequest request;
  request.set_tenant(call.ledger.tenant());
  request.set_ledger(call.ledger.ledger());
  request.set_include_entries(true);
  // A polled bind (HTTP, no session) is answered with what followed the connection's last poll.
  std::string cursor;
  if (bind && call.session == nullptr && call.msg.conn.has_value() &&
      !call.msg.conn->req_id.empty() && !call.msg.conn->res_id.empty()) {
    cursor = PollCursors::Key(call.msg.conn->req_id, call.msg.conn->res_id, call.ledger);
    request.set_entries_after_version(poll_cursors_.After(cursor));
  }
  backend_.GetLedger(
      std::move(request), [this, call = std::move(call), bind, cursor = std::move(cursor)](
                              absl::StatusOr<metadata::v1::GetLedgerResponse> r) mutable {
        if (!r.ok()) return Fail(call, r.status());
        if (!cursor.empty()) poll_cursors_.Served(cursor, r->state().version(), !r->incremental());
        if (bind && call.session != nullptr) {
          followers_.Served(call.ledger, call.session.get(), r->state().version());
        }
        boost::json::object reply = EncodeEnvelope(call.msg, ReplyTypeName(call.msg.type));
        if (std::optional<Conn> conn = ReplyConn(call)) reply["conn"] = EncodeConn(*conn);
        reply["signedUrl"] = "";
        reply["meta"] = EncodeMeta(r->state().head_entries(), r->state().keys());
        Succeed(call, std::move(reply));
      });
}

void Dispatcher::HandlePutMeta(Call call) {
  merge::v1::PutMetaRequest request;
  request.set_tenant(call.ledger.tenant());
  request.set_ledger(call.ledger.ledger());
  std::string writer = call.session != nullptr     ? call.session->res_id()
                       : call.msg.conn.has_value() ? call.msg.conn->res_id
                                                   : "";
  request.set_writer(writer.empty() ? "http" : writer);
  for (MetaEntryMsg& e : call.msg.meta->metas) {
    auto* entry = request.add_entries();
    entry->set_cid(std::move(e.cid));
    entry->set_data(std::move(e.data));
    for (std::string& p : e.parents) entry->add_parents(std::move(p));
  }
  for (std::string& k : call.msg.meta->keys) request.add_keys(std::move(k));
  call.msg.meta.reset();  // the reply does not echo the entries
  backend_.PutMeta(std::move(request), [this, call = std::move(call)](
                                           absl::StatusOr<merge::v1::PutMetaResponse> r) mutable {
    if (!r.ok()) return Fail(call, r.status());
    boost::json::object reply = EncodeEnvelope(call.msg, "resPutMeta");
    reply["signedUrl"] = "";
    Succeed(call, std::move(reply));
  });
}

void Dispatcher::HandleDelMeta(Call call) {
  // Meta entries are history and are never deleted; acknowledge without changing anything.
  boost::json::object reply = EncodeEnvelope(call.msg, "resDelMeta");
  reply["methodParam"] = boost::json::object{{"method", "DELETE"}, {"store", "meta"}};
  Succeed(call, std::move(reply));
}

void Dispatcher::HandleBlobUrl(Call call) {
  const MsgType type = call.msg.type;
  const bool wal =
      type == MsgType::kReqPutWAL || type == MsgType::kReqGetWAL || type == MsgType::kReqDelWAL;
  const std::optional<UrlParam>& url_param = call.msg.url_param;
  std::string store = call.msg.method_param.has_value() ? call.msg.method_param->store : "";
  if (store.empty() && url_param.has_value()) store = url_param->store;
  if (store.empty()) store = wal ? "wal" : "car";
  const std::optional<StoreKind> kind = StoreKindFromName(store);
  if (!kind.has_value() ||
      (wal ? *kind != StoreKind::kWal : (*kind != StoreKind::kCar && *kind != StoreKind::kFile))) {
    return Fail(call, absl::InvalidArgumentError(absl::StrCat(
                          "store \"", store, "\" is not valid for ", MsgTypeName(type))));
  }
  std::string key = url_param.has_value() ? url_param->key : "";
  if (key.empty()) return Fail(call, absl::InvalidArgumentError("urlParam.key is required"));
  const char* method = (type == MsgType::kReqPutData || type == MsgType::kReqPutWAL)   ? "PUT"
                       : (type == MsgType::kReqGetData || type == MsgType::kReqGetWAL) ? "GET"
                                                                                       : "DELETE";
  absl::Duration lifetime = options_.url_lifetime;
  if (url_param.has_value() && url_param->expires.has_value() && *url_param->expires > 0) {
    lifetime = std::min(lifetime, absl::Seconds(*url_param->expires));
  }
  boost::json::object reply = EncodeEnvelope(call.msg, ReplyTypeName(type));
  BlobAddress blob{call.ledger, *kind, key};
  // With the block-store on S3, data URLs point straight at the object store; WAL stays here.
  reply["signedUrl"] = options_.direct_blob_urls != nullptr && !wal
                           ? options_.direct_blob_urls->Sign(method, blob, lifetime)
                           : signer_.Sign(method, blob, clock_.Now() + lifetime);
  if (call.session != nullptr && !call.session->res_id().empty()) {
    reply["conn"] = EncodeConn(Conn{call.session->req_id(), call.session->res_id()});
  }
  Succeed(call, std::move(reply));
}

void Dispatcher::ServeAgain(const LedgerRef& ledger, const std::shared_ptr<ClientSession>& session,
                            Message bind) {
  metadata::v1::GetLedgerRequest request;
  request.set_tenant(ledger.tenant());
  request.set_ledger(ledger.ledger());
  request.set_include_entries(true);
  backend_.GetLedger(std::move(request), [this, ledger, session, bind = std::move(bind)](
                                             absl::StatusOr<metadata::v1::GetLedgerResponse> r) {
    if (!r.ok()) {
      LOG(WARNING) << "could not serve a renewed connection its ledger again: " << r.status();
      return;
    }
    followers_.Served(ledger, session.get(), r->state().version());
    boost::json::object push = EncodeEnvelope(bind, ReplyTypeName(MsgType::kBindGetMeta));
    push["conn"] = EncodeConn(Conn{session->req_id(), session->res_id()});
    push["signedUrl"] = "";
    push["meta"] = EncodeMeta(r->state().head_entries(), r->state().keys());
    session->Push(boost::json::serialize(push), std::chrono::steady_clock::now());
  });
}

}  // namespace kiln::edge
