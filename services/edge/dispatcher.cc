#include "services/edge/dispatcher.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "boost/json/serialize.hpp"
#include "common/log_limiter.h"
#include "common/sha256.h"
#include "glog/logging.h"

namespace kiln::edge {
namespace {

constexpr char kMsgVersion[] = "FP-MSG-1.0";

// Message types we count by name; anything else is counted as "unknown" (bounded cardinality).
const absl::flat_hash_set<std::string>& KnownTypes() {
  static const auto* types = new absl::flat_hash_set<std::string>{
      "reqGestalt", "reqOpen",    "reqClose",   "reqChat",    "bindGetMeta",
      "reqGetMeta", "reqPutMeta", "reqDelMeta", "reqPutData", "reqGetData",
      "reqDelData", "reqPutWAL",  "reqGetWAL",  "reqDelWAL"};
  return *types;
}

const boost::json::object* Obj(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

std::string Str(const boost::json::object* o, const char* key) {
  if (o == nullptr) return "";
  auto it = o->find(key);
  if (it == o->end() || !it->value().is_string()) return "";
  return std::string(it->value().get_string());
}

std::string Token(const boost::json::object& msg) {
  const boost::json::object* auth = Obj(msg, "auth");
  return Str(auth != nullptr ? Obj(*auth, "params") : nullptr, "jwk");
}

std::string RandomId() {
  unsigned char b[12];
  RAND_bytes(b, sizeof(b));
  return "kiln-" + HexEncode(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
}

// Tenant and ledger of a data or meta message: `tenant` first, then `urlParam`.
std::pair<std::string, std::string> TenantLedger(const boost::json::object& msg) {
  const boost::json::object* t = Obj(msg, "tenant");
  const boost::json::object* u = Obj(msg, "urlParam");
  std::string tenant = Str(t, "tenant"), ledger = Str(t, "ledger");
  if (tenant.empty()) tenant = Str(u, "tenant");
  if (ledger.empty()) ledger = Str(u, "ledger");
  return {tenant, ledger};
}

boost::json::array StringArray(const google::protobuf::RepeatedPtrField<std::string>& values) {
  boost::json::array out;
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

boost::json::object Gestalt(bool offer_stream, const std::string& base_path) {
  boost::json::array req_types, res_types;
  for (const char* t : {"reqOpen", "reqGestalt", "reqClose", "reqChat", "bindGetMeta", "reqGetMeta",
                        "reqPutMeta", "reqDelMeta", "reqPutData", "reqGetData", "reqDelData",
                        "reqPutWAL", "reqGetWAL", "reqDelWAL"}) {
    req_types.emplace_back(t);
  }
  for (const char* t :
       {"resOpen", "resGestalt", "resClose", "resChat", "resGetMeta", "resPutMeta", "resDelMeta",
        "resPutData", "resGetData", "resDelData", "resPutWAL", "resGetWAL", "resDelWAL"}) {
    res_types.emplace_back(t);
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
  auth_refusals_ = &prometheus::BuildCounter()
                        .Name("kiln_edge_auth_refusals_total")
                        .Help("Messages refused by authentication or authorization, by reason.")
                        .Register(registry);
  for (const char* reason : {"unauthenticated", "permission_denied"}) {
    auth_refusals_->Add({{"reason", reason}});
  }
}

void Dispatcher::Count(const std::string& type, bool ok) {
  messages_
      ->Add({{"type", KnownTypes().contains(type) ? type : "unknown"},
             {"outcome", ok ? "ok" : "error"}})
      .Increment();
}

Reply Dispatcher::Error(const boost::json::object& src, const std::string& message,
                        absl::StatusCode code) {
  // Every refused request is logged with its reason (never the token), at most 20 lines per 10 s.
  static LogLimiter* const limiter = new LogLimiter(20, absl::Seconds(10));
  if (uint64_t suppressed = 0; limiter->Allow(&suppressed)) {
    auto type = src.find("type");
    std::string what = type != src.end() && type->value().is_string()
                           ? std::string(type->value().get_string()).substr(0, 40)
                           : "(no type)";
    LOG(WARNING) << "refused " << what << ": " << absl::StatusCodeToString(code) << ": "
                 << message.substr(0, 300)
                 << (suppressed > 0 ? absl::StrCat(" (", suppressed, " refusals not logged)") : "");
  }
  if (code == absl::StatusCode::kUnauthenticated) {
    auth_refusals_->Add({{"reason", "unauthenticated"}}).Increment();
  } else if (code == absl::StatusCode::kPermissionDenied) {
    auth_refusals_->Add({{"reason", "permission_denied"}}).Increment();
  }
  boost::json::object body{{"type", "error"},
                           {"tid", src.contains("tid") ? src.at("tid") : boost::json::value("")},
                           {"version", kMsgVersion},
                           {"src", src},
                           {"message", message}};
  if (src.contains("auth")) body["auth"] = src.at("auth");
  // No `conn`: over WebSocket the client routes an error carrying its own conn into its
  // bindGetMeta stream and ends that stream, so one refused write would stop all later pushes.
  if (code == absl::StatusCode::kUnavailable) body["reason"] = "not-ready";
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

namespace {

// Whether two principals may chat: anyone in development mode, else a shared tenant.
bool ShareATenant(const Principal& a, const Principal& b) {
  if (a.unrestricted || b.unrestricted) return a.unrestricted && b.unrestricted;
  for (const auto& t : a.claims.tenants) {
    if (std::find(b.claims.tenants.begin(), b.claims.tenants.end(), t) != b.claims.tenants.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

boost::json::object Dispatcher::Chat(const boost::json::object& msg,
                                     const std::shared_ptr<ClientSession>& sender,
                                     const Principal& sender_principal) {
  std::vector<std::shared_ptr<ClientSession>> members;
  {
    absl::MutexLock lock(&room_mu_);
    for (auto it = room_.begin(); it != room_.end();) {
      if (auto member = it->second.session.lock()) {
        if (member == sender || ShareATenant(sender_principal, it->second.principal)) {
          members.push_back(std::move(member));
        }
        ++it;
      } else {
        room_.erase(it++);
      }
    }
  }
  boost::json::array targets;
  for (const auto& m : members) {
    targets.emplace_back(boost::json::object{{"reqId", m->req_id()}, {"resId", m->res_id()}});
  }
  const boost::json::object* conn = Obj(msg, "conn");
  std::string from = Str(conn, "reqId");
  std::string text(msg.at("message").as_string());
  auto now = std::chrono::steady_clock::now();
  for (const auto& m : members) {
    if (m == sender) continue;
    boost::json::object out = msg;
    out["type"] = "resChat";
    out["conn"] = boost::json::object{{"reqId", m->req_id()}, {"resId", m->res_id()}};
    out["message"] = absl::StrCat("[", from, "]: ", text);
    out["targets"] = targets;
    m->Push(boost::json::serialize(out), now);
  }
  boost::json::object reply = msg;
  reply["message"] = absl::StrCat("ack: ", text);
  reply["targets"] = std::move(targets);
  return reply;
}

namespace {

// `meta` of an eventGetMeta or resGetMeta: the entries a reader is served and every key.
boost::json::object ReaderMeta(const metadata::v1::GetLedgerResponse& r) {
  boost::json::array metas;
  for (const auto& e : r.state().head_entries()) {
    boost::json::array parents;
    for (const auto& p : e.parents()) parents.emplace_back(p);
    metas.emplace_back(
        boost::json::object{{"cid", e.cid()}, {"parents", std::move(parents)}, {"data", e.data()}});
  }
  return boost::json::object{{"metas", std::move(metas)}, {"keys", StringArray(r.state().keys())}};
}

}  // namespace

void Dispatcher::ServeAgain(const std::string& tenant, const std::string& ledger,
                            const std::shared_ptr<ClientSession>& session,
                            boost::json::object bind) {
  metadata::v1::GetLedgerRequest request;
  request.set_tenant(tenant);
  request.set_ledger(ledger);
  request.set_include_entries(true);
  backend_.GetLedger(std::move(request), [this, tenant, ledger, session, bind = std::move(bind)](
                                             absl::StatusOr<metadata::v1::GetLedgerResponse> r) {
    if (!r.ok()) {
      LOG(WARNING) << "could not serve a renewed connection its ledger again: " << r.status();
      return;
    }
    followers_.Served(tenant, ledger, session.get(), r->state().version());
    boost::json::object push = bind;
    push["type"] = "eventGetMeta";
    push["conn"] = boost::json::object{{"reqId", session->req_id()}, {"resId", session->res_id()}};
    if (!push.contains("signedUrl")) push["signedUrl"] = "";
    push["meta"] = ReaderMeta(*r);
    session->Push(boost::json::serialize(push), std::chrono::steady_clock::now());
  });
}

void Dispatcher::Handle(boost::json::object msg, const std::shared_ptr<ClientSession>& session,
                        Done done) {
  std::string type = Str(&msg, "type");
  auto fail = [&](const std::string& message, absl::StatusCode code) {
    Count(type, false);
    done(Error(msg, message, code));
  };
  if (type.empty()) return fail("message has no \"type\"", absl::StatusCode::kInvalidArgument);
  if (!KnownTypes().contains(type)) {
    return fail("unexpected message", absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<Principal> principal = auth_.Authenticate(Token(msg));
  if (!principal.ok()) {
    return fail(std::string(principal.status().message()), principal.status().code());
  }

  // Connection management: no tenant or ledger involved.
  if (type == "reqGestalt") {
    boost::json::object reply{{"tid", msg["tid"]},
                              {"type", "resGestalt"},
                              {"version", kMsgVersion},
                              {"gestalt", Gestalt(options_.offer_stream, options_.base_path)}};
    if (msg.contains("auth")) reply["auth"] = msg["auth"];
    Count(type, true);
    return done(Reply{std::move(reply)});
  }
  if (type == "reqOpen" || type == "reqClose" || type == "reqChat") {
    boost::json::object reply = msg;
    const boost::json::object* conn = Obj(msg, "conn");
    std::string req_id = Str(conn, "reqId"), res_id = Str(conn, "resId");
    if (type == "reqOpen") {
      if (req_id.empty())
        return fail("reqOpen needs conn.reqId", absl::StatusCode::kInvalidArgument);
      if (res_id.empty()) res_id = RandomId();  // keep a client-supplied resId (reconnects)
      if (session != nullptr) {
        session->SetConn(req_id, res_id);
        absl::MutexLock lock(&room_mu_);
        room_[session.get()] = RoomMember{session, *principal};
        if (room_.size() >= room_sweep_at_) {
          absl::erase_if(room_, [](const auto& entry) { return entry.second.session.expired(); });
          room_sweep_at_ = std::max<size_t>(64, 2 * room_.size());
        }
      }
      reply["conn"] = boost::json::object{{"reqId", req_id}, {"resId", res_id}};
    } else if (type == "reqClose" && session != nullptr) {
      // A closed connection gets no more pushes and no chat (the socket may stay open).
      followers_.Unfollow(session.get());
      absl::MutexLock lock(&room_mu_);
      room_.erase(session.get());
    } else if (type == "reqChat") {
      if (!msg.contains("message") || !msg["message"].is_string()) {
        return fail("reqChat needs a string \"message\"", absl::StatusCode::kInvalidArgument);
      }
      reply = Chat(msg, session, *principal);
    }
    reply["type"] = type == "reqOpen" ? "resOpen" : type == "reqClose" ? "resClose" : "resChat";
    Count(type, true);
    return done(Reply{std::move(reply)});
  }

  auto [tenant, ledger] = TenantLedger(msg);
  if (tenant.empty() || ledger.empty()) {
    return fail("message needs tenant.tenant and tenant.ledger",
                absl::StatusCode::kInvalidArgument);
  }
  bool write = type == "reqPutMeta" || type == "reqDelMeta" || type == "reqPutData" ||
               type == "reqDelData" || type == "reqPutWAL" || type == "reqDelWAL";
  absl::Status access = CheckAccess(*principal, tenant, ledger, write);
  if (!access.ok()) return fail(std::string(access.message()), access.code());

  if (session != nullptr && type != "bindGetMeta") {
    // A valid token on a connection whose pushes stopped when its bind's token expired.
    if (auto bind = followers_.Renew(tenant, ledger, session.get(), principal->valid_until)) {
      ServeAgain(tenant, ledger, session, std::move(*bind));
    }
  }

  if (type == "bindGetMeta" || type == "reqGetMeta") {
    if (type == "bindGetMeta" && session != nullptr) {
      // Follow first, then read: every change after the read is pushed, none is lost.
      followers_.Follow(tenant, ledger, session, msg, principal->valid_until);
    }
    metadata::v1::GetLedgerRequest request;
    request.set_tenant(tenant);
    request.set_ledger(ledger);
    request.set_include_entries(true);
    // A polled bind (HTTP, no session) is answered with what followed the connection's last poll.
    std::string cursor;
    if (type == "bindGetMeta" && session == nullptr) {
      const boost::json::object* conn = Obj(msg, "conn");
      std::string req_id = Str(conn, "reqId"), res_id = Str(conn, "resId");
      if (!req_id.empty() && !res_id.empty()) {
        cursor = PollCursors::Key(req_id, res_id, tenant, ledger);
        request.set_entries_after_version(poll_cursors_.After(cursor));
      }
    }
    auto reply_conn = session != nullptr && !session->res_id().empty()
                          ? boost::json::value(boost::json::object{{"reqId", session->req_id()},
                                                                   {"resId", session->res_id()}})
                          : (msg.contains("conn") ? msg["conn"] : boost::json::value(nullptr));
    std::shared_ptr<ClientSession> follower = type == "bindGetMeta" ? session : nullptr;
    backend_.GetLedger(
        std::move(request), [this, msg = std::move(msg), reply_conn = std::move(reply_conn), type,
                             cursor = std::move(cursor), follower = std::move(follower),
                             tenant = tenant, ledger = ledger, done = std::move(done)](
                                absl::StatusOr<metadata::v1::GetLedgerResponse> r) mutable {
          if (!r.ok()) {
            Count(type, false);
            return done(Error(msg, std::string(r.status().message()), r.status().code()));
          }
          if (!cursor.empty())
            poll_cursors_.Served(cursor, r->state().version(), !r->incremental());
          if (follower != nullptr)
            followers_.Served(tenant, ledger, follower.get(), r->state().version());
          boost::json::object reply = msg;
          reply["type"] = type == "bindGetMeta" ? "eventGetMeta" : "resGetMeta";
          if (!reply_conn.is_null()) reply["conn"] = reply_conn;
          if (!reply.contains("signedUrl")) reply["signedUrl"] = "";
          reply["meta"] = ReaderMeta(*r);
          Count(type, true);
          done(Reply{std::move(reply)});
        });
    return;
  }

  if (type == "reqPutMeta") {
    const boost::json::object* meta = Obj(msg, "meta");
    if (meta == nullptr)
      return fail("reqPutMeta needs a meta object", absl::StatusCode::kInvalidArgument);
    merge::v1::PutMetaRequest request;
    request.set_tenant(tenant);
    request.set_ledger(ledger);
    std::string writer = session != nullptr ? session->res_id() : Str(Obj(msg, "conn"), "resId");
    request.set_writer(writer.empty() ? "http" : writer);
    auto metas = meta->find("metas");
    if (metas == meta->end() || !metas->value().is_array()) {
      return fail("meta.metas must be an array", absl::StatusCode::kInvalidArgument);
    }
    for (const auto& m : metas->value().get_array()) {
      if (!m.is_object())
        return fail("meta.metas[] must be objects", absl::StatusCode::kInvalidArgument);
      const auto& o = m.get_object();
      auto* entry = request.add_entries();
      entry->set_cid(Str(&o, "cid"));
      entry->set_data(Str(&o, "data"));
      auto parents = o.find("parents");
      if (parents != o.end() && parents->value().is_array()) {
        for (const auto& p : parents->value().get_array()) {
          if (p.is_string()) entry->add_parents(std::string(p.get_string()));
        }
      }
    }
    auto keys = meta->find("keys");
    if (keys != meta->end() && keys->value().is_array()) {
      for (const auto& k : keys->value().get_array()) {
        if (k.is_string()) request.add_keys(std::string(k.get_string()));
      }
    }
    backend_.PutMeta(std::move(request), [this, msg = std::move(msg), type, done = std::move(done)](
                                             absl::StatusOr<merge::v1::PutMetaResponse> r) mutable {
      if (!r.ok()) {
        Count(type, false);
        return done(Error(msg, std::string(r.status().message()), r.status().code()));
      }
      boost::json::object reply = msg;
      reply["type"] = "resPutMeta";
      if (!reply.contains("signedUrl")) reply["signedUrl"] = "";
      Count(type, true);
      done(Reply{std::move(reply)});
    });
    return;
  }

  if (type == "reqDelMeta") {
    // Meta entries are history and are never deleted; acknowledge without changing anything.
    boost::json::object reply = msg;
    reply["type"] = "resDelMeta";
    reply["methodParam"] = boost::json::object{{"method", "DELETE"}, {"store", "meta"}};
    Count(type, true);
    return done(Reply{std::move(reply)});
  }

  // Signed URLs for data and WAL.
  bool wal = type.find("WAL") != std::string::npos;
  const boost::json::object* method_param = Obj(msg, "methodParam");
  const boost::json::object* url_param = Obj(msg, "urlParam");
  std::string store = Str(method_param, "store");
  if (store.empty()) store = Str(url_param, "store");
  if (store.empty()) store = wal ? "wal" : "car";
  if (wal ? store != "wal" : (store != "car" && store != "file")) {
    return fail(absl::StrCat("store \"", store, "\" is not valid for ", type),
                absl::StatusCode::kInvalidArgument);
  }
  std::string key = Str(url_param, "key");
  if (key.empty()) return fail("urlParam.key is required", absl::StatusCode::kInvalidArgument);
  std::string method = type.rfind("reqPut", 0) == 0   ? "PUT"
                       : type.rfind("reqGet", 0) == 0 ? "GET"
                                                      : "DELETE";
  absl::Duration lifetime = options_.url_lifetime;
  if (url_param != nullptr) {
    auto it = url_param->find("expires");
    if (it != url_param->end() && it->value().is_number()) {
      double secs = it->value().to_number<double>();
      if (secs > 0) lifetime = std::min(lifetime, absl::Seconds(secs));
    }
  }
  boost::json::object reply = msg;
  reply["type"] = "res" + type.substr(3);
  BlobAddress blob{tenant, ledger, store, key};
  reply["signedUrl"] = options_.direct_blob_urls != nullptr && !wal
                           ? options_.direct_blob_urls->Sign(method, blob, lifetime)
                           : signer_.Sign(method, blob, clock_.Now() + lifetime);
  if (session != nullptr && !session->res_id().empty()) {
    reply["conn"] = boost::json::object{{"reqId", session->req_id()}, {"resId", session->res_id()}};
  }
  Count(type, true);
  done(Reply{std::move(reply)});
}

}  // namespace kiln::edge
