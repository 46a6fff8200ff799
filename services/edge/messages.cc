#include "services/edge/messages.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/json/array.hpp"
#include "common/ids.h"
#include "common/status_macros.h"

namespace kiln::edge {
namespace {

struct TypeNames {
  MsgType type;
  const char* request;
  const char* reply;
};

constexpr std::array<TypeNames, kMsgTypeCount> kTypes{{
    {MsgType::kReqOpen, "reqOpen", "resOpen"},
    {MsgType::kReqGestalt, "reqGestalt", "resGestalt"},
    {MsgType::kReqClose, "reqClose", "resClose"},
    {MsgType::kReqChat, "reqChat", "resChat"},
    {MsgType::kBindGetMeta, "bindGetMeta", "eventGetMeta"},
    {MsgType::kReqGetMeta, "reqGetMeta", "resGetMeta"},
    {MsgType::kReqPutMeta, "reqPutMeta", "resPutMeta"},
    {MsgType::kReqDelMeta, "reqDelMeta", "resDelMeta"},
    {MsgType::kReqPutData, "reqPutData", "resPutData"},
    {MsgType::kReqGetData, "reqGetData", "resGetData"},
    {MsgType::kReqDelData, "reqDelData", "resDelData"},
    {MsgType::kReqPutWAL, "reqPutWAL", "resPutWAL"},
    {MsgType::kReqGetWAL, "reqGetWAL", "resGetWAL"},
    {MsgType::kReqDelWAL, "reqDelWAL", "resDelWAL"},
}};

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// The object at `key`, nullptr when absent or null; INVALID_ARGUMENT when it is something else.
absl::StatusOr<const boost::json::object*> OptObject(const boost::json::object& o, const char* key,
                                                     absl::string_view field) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  if (!it->value().is_object()) return FieldError(field, "must be an object");
  return &it->value().get_object();
}

// The string at `key` ("" when absent or null), at most `max` bytes.
absl::StatusOr<std::string> OptString(const boost::json::object* o, const char* key,
                                      absl::string_view field, size_t max) {
  if (o == nullptr) return std::string();
  auto it = o->find(key);
  if (it == o->end() || it->value().is_null()) return std::string();
  if (!it->value().is_string()) return FieldError(field, "must be a string");
  const boost::json::string& s = it->value().get_string();
  if (s.size() > max) {
    return FieldError(field, absl::StrCat("is ", s.size(), " bytes; at most ", max, " allowed"));
  }
  return std::string(s);
}

// An optional tenant or ledger id: "" when absent, else it must be in the id grammar.
absl::StatusOr<std::string> OptId(const boost::json::object* o, const char* key,
                                  absl::string_view field) {
  KILN_ASSIGN_OR_RETURN(std::string id, OptString(o, key, field, SIZE_MAX));
  if (!id.empty()) KILN_RETURN_IF_ERROR(ValidateId(id, field));
  return id;
}

absl::StatusOr<std::vector<std::string>> StringArray(const boost::json::value& v,
                                                     absl::string_view field, size_t max_bytes) {
  if (!v.is_array()) return FieldError(field, "must be an array");
  std::vector<std::string> out;
  out.reserve(v.get_array().size());
  for (const auto& item : v.get_array()) {
    if (!item.is_string()) return FieldError(field, "must hold only strings");
    if (item.get_string().size() > max_bytes) {
      return FieldError(field, absl::StrCat("holds a string over ", max_bytes, " bytes"));
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

absl::Status DecodeAuth(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* auth, OptObject(json, "auth", "auth"));
  if (auth == nullptr) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(const boost::json::object* params,
                        OptObject(*auth, "params", "auth.params"));
  Auth a;
  KILN_ASSIGN_OR_RETURN(a.type, OptString(auth, "type", "auth.type", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(a.token, OptString(params, "jwk", "auth.params.jwk", kMaxAuthTokenBytes));
  m.auth = std::move(a);
  return absl::OkStatus();
}

absl::Status DecodeConn(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* conn, OptObject(json, "conn", "conn"));
  if (conn == nullptr) return absl::OkStatus();
  Conn c;
  KILN_ASSIGN_OR_RETURN(c.req_id, OptString(conn, "reqId", "conn.reqId", kMaxConnIdBytes));
  KILN_ASSIGN_OR_RETURN(c.res_id, OptString(conn, "resId", "conn.resId", kMaxConnIdBytes));
  m.conn = std::move(c);
  return absl::OkStatus();
}

absl::Status DecodeTenant(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* tenant, OptObject(json, "tenant", "tenant"));
  if (tenant == nullptr) return absl::OkStatus();
  TenantLedger t;
  KILN_ASSIGN_OR_RETURN(t.tenant, OptId(tenant, "tenant", "tenant.tenant"));
  KILN_ASSIGN_OR_RETURN(t.ledger, OptId(tenant, "ledger", "tenant.ledger"));
  KILN_ASSIGN_OR_RETURN(t.app_id, OptString(tenant, "appId", "tenant.appId", kMaxParamBytes));
  m.tenant = std::move(t);
  return absl::OkStatus();
}

absl::Status DecodeMethodParam(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* mp,
                        OptObject(json, "methodParam", "methodParam"));
  if (mp == nullptr) return absl::OkStatus();
  MethodParam p;
  KILN_ASSIGN_OR_RETURN(p.method, OptString(mp, "method", "methodParam.method", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(p.store, OptString(mp, "store", "methodParam.store", kMaxParamBytes));
  m.method_param = std::move(p);
  return absl::OkStatus();
}

absl::Status DecodeUrlParam(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* up, OptObject(json, "urlParam", "urlParam"));
  if (up == nullptr) return absl::OkStatus();
  UrlParam p;
  KILN_ASSIGN_OR_RETURN(p.key, OptString(up, "key", "urlParam.key", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(p.store, OptString(up, "store", "urlParam.store", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(p.tenant, OptId(up, "tenant", "urlParam.tenant"));
  KILN_ASSIGN_OR_RETURN(p.ledger, OptId(up, "ledger", "urlParam.ledger"));
  KILN_ASSIGN_OR_RETURN(p.name, OptString(up, "name", "urlParam.name", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(p.index, OptString(up, "index", "urlParam.index", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(p.path, OptString(up, "path", "urlParam.path", kMaxParamBytes));
  auto expires = up->find("expires");
  if (expires != up->end() && expires->value().is_number()) {
    p.expires = expires->value().to_number<double>();
  }
  m.url_param = std::move(p);
  return absl::OkStatus();
}

absl::StatusOr<MetaEntryMsg> DecodeEntry(const boost::json::value& v, const std::string& field) {
  if (!v.is_object()) return FieldError(field, "must be an object");
  const boost::json::object& o = v.get_object();
  MetaEntryMsg e;
  // CIDs, parents and data are checked by merge, which names what is wrong with them; here they
  // only have to be strings (the message size bounds them).
  KILN_ASSIGN_OR_RETURN(e.cid, OptString(&o, "cid", field + ".cid", kMaxParamBytes));
  KILN_ASSIGN_OR_RETURN(e.data, OptString(&o, "data", field + ".data", SIZE_MAX));
  auto parents = o.find("parents");
  if (parents != o.end() && !parents->value().is_null()) {
    KILN_ASSIGN_OR_RETURN(e.parents,
                          StringArray(parents->value(), field + ".parents", kMaxParamBytes));
  }
  return e;
}

absl::Status DecodeMeta(const boost::json::object& json, Message& m) {
  KILN_ASSIGN_OR_RETURN(const boost::json::object* meta, OptObject(json, "meta", "meta"));
  if (meta == nullptr) {
    if (m.type == MsgType::kReqPutMeta) return FieldError("meta", "reqPutMeta needs a meta object");
    return absl::OkStatus();
  }
  MetaMsg out;
  auto metas = meta->find("metas");
  if (metas == meta->end() || !metas->value().is_array()) {
    if (m.type == MsgType::kReqPutMeta) return FieldError("meta.metas", "must be an array");
  } else {
    const boost::json::array& arr = metas->value().get_array();
    out.metas.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      KILN_ASSIGN_OR_RETURN(MetaEntryMsg e,
                            DecodeEntry(arr[i], absl::StrCat("meta.metas[", i, "]")));
      out.metas.push_back(std::move(e));
    }
  }
  auto keys = meta->find("keys");
  if (keys != meta->end() && !keys->value().is_null()) {
    KILN_ASSIGN_OR_RETURN(out.keys, StringArray(keys->value(), "meta.keys", kMaxParamBytes));
  }
  m.meta = std::move(out);
  return absl::OkStatus();
}

absl::Status DecodeChat(const boost::json::object& json, Message& m) {
  auto it = json.find("message");
  if (it == json.end() || !it->value().is_string()) {
    return FieldError("message", "reqChat needs a string \"message\"");
  }
  if (it->value().get_string().size() > kMaxChatBytes) {
    return FieldError("message", absl::StrCat("is over ", kMaxChatBytes, " bytes"));
  }
  m.chat_message = std::string(it->value().get_string());
  return absl::OkStatus();
}

void PutIfSet(boost::json::object& o, const char* key, const std::string& value) {
  if (!value.empty()) o[key] = value;
}

}  // namespace

const char* MsgTypeName(MsgType type) { return kTypes[static_cast<int>(type)].request; }
const char* ReplyTypeName(MsgType type) { return kTypes[static_cast<int>(type)].reply; }

std::optional<MsgType> ParseMsgType(absl::string_view name) {
  for (const TypeNames& t : kTypes) {
    if (name == t.request) return t.type;
  }
  return std::nullopt;
}

bool IsWrite(MsgType type) {
  switch (type) {
    case MsgType::kReqPutMeta:
    case MsgType::kReqDelMeta:
    case MsgType::kReqPutData:
    case MsgType::kReqDelData:
    case MsgType::kReqPutWAL:
    case MsgType::kReqDelWAL:
      return true;
    default:
      return false;
  }
}

bool IsBlobRequest(MsgType type) {
  switch (type) {
    case MsgType::kReqPutData:
    case MsgType::kReqGetData:
    case MsgType::kReqDelData:
    case MsgType::kReqPutWAL:
    case MsgType::kReqGetWAL:
    case MsgType::kReqDelWAL:
      return true;
    default:
      return false;
  }
}

std::string Message::Tenant() const {
  if (tenant.has_value() && !tenant->tenant.empty()) return tenant->tenant;
  return url_param.has_value() ? url_param->tenant : "";
}

std::string Message::Ledger() const {
  if (tenant.has_value() && !tenant->ledger.empty()) return tenant->ledger;
  return url_param.has_value() ? url_param->ledger : "";
}

const std::string& Message::Token() const {
  static const std::string* const kEmpty = new std::string();
  return auth.has_value() ? auth->token : *kEmpty;
}

absl::StatusOr<Message> DecodeMessage(const boost::json::object& json) {
  Message m;
  auto type = json.find("type");
  if (type == json.end() || !type->value().is_string()) {
    return FieldError("type", "message has no \"type\"");
  }
  const boost::json::string& type_name = type->value().get_string();
  std::optional<MsgType> parsed =
      ParseMsgType(absl::string_view(type_name.data(), type_name.size()));
  if (!parsed.has_value()) return absl::InvalidArgumentError("unexpected message");
  m.type = *parsed;
  KILN_ASSIGN_OR_RETURN(m.tid, OptString(&json, "tid", "tid", kMaxTidBytes));
  KILN_ASSIGN_OR_RETURN(m.version, OptString(&json, "version", "version", kMaxParamBytes));
  KILN_RETURN_IF_ERROR(DecodeAuth(json, m));
  KILN_RETURN_IF_ERROR(DecodeConn(json, m));
  KILN_RETURN_IF_ERROR(DecodeTenant(json, m));
  KILN_RETURN_IF_ERROR(DecodeMethodParam(json, m));
  KILN_RETURN_IF_ERROR(DecodeUrlParam(json, m));
  if (m.type == MsgType::kReqPutMeta || m.type == MsgType::kReqDelMeta) {
    KILN_RETURN_IF_ERROR(DecodeMeta(json, m));
  }
  if (m.type == MsgType::kReqChat) KILN_RETURN_IF_ERROR(DecodeChat(json, m));
  return m;
}

ErrorSource ErrorSourceOf(const boost::json::object& json) {
  ErrorSource out;
  auto bounded = [&](const char* key, size_t max) {
    auto it = json.find(key);
    if (it == json.end() || !it->value().is_string()) return std::string();
    const boost::json::string& s = it->value().get_string();
    return s.size() <= max ? std::string(s) : std::string();
  };
  out.tid = bounded("tid", kMaxTidBytes);
  out.type = bounded("type", 64);
  return out;
}

boost::json::object EncodeConn(const Conn& conn) {
  return boost::json::object{{"reqId", conn.req_id}, {"resId", conn.res_id}};
}

boost::json::object EncodeEnvelope(const Message& m, absl::string_view type) {
  boost::json::object o{{"tid", m.tid}, {"type", std::string(type)}, {"version", kMsgVersion}};
  if (m.auth.has_value()) {
    o["auth"] = boost::json::object{{"type", m.auth->type},
                                    {"params", boost::json::object{{"jwk", m.auth->token}}}};
  }
  if (m.conn.has_value()) o["conn"] = EncodeConn(*m.conn);
  if (m.tenant.has_value()) {
    boost::json::object t{{"tenant", m.tenant->tenant}, {"ledger", m.tenant->ledger}};
    PutIfSet(t, "appId", m.tenant->app_id);
    o["tenant"] = std::move(t);
  }
  if (m.method_param.has_value()) {
    boost::json::object mp;
    PutIfSet(mp, "method", m.method_param->method);
    PutIfSet(mp, "store", m.method_param->store);
    o["methodParam"] = std::move(mp);
  }
  if (m.url_param.has_value()) {
    const UrlParam& p = *m.url_param;
    boost::json::object up;
    PutIfSet(up, "key", p.key);
    PutIfSet(up, "store", p.store);
    PutIfSet(up, "tenant", p.tenant);
    PutIfSet(up, "ledger", p.ledger);
    PutIfSet(up, "name", p.name);
    PutIfSet(up, "index", p.index);
    PutIfSet(up, "path", p.path);
    if (p.expires.has_value()) up["expires"] = *p.expires;
    o["urlParam"] = std::move(up);
  }
  return o;
}

boost::json::object EncodeMeta(
    const google::protobuf::RepeatedPtrField<metadata::v1::MetaEntry>& entries,
    const google::protobuf::RepeatedPtrField<std::string>& keys) {
  boost::json::array metas;
  metas.reserve(entries.size());
  for (const auto& e : entries) {
    boost::json::array parents;
    for (const auto& p : e.parents()) parents.emplace_back(p);
    metas.emplace_back(
        boost::json::object{{"cid", e.cid()}, {"parents", std::move(parents)}, {"data", e.data()}});
  }
  boost::json::array key_array;
  for (const auto& k : keys) key_array.emplace_back(k);
  return boost::json::object{{"metas", std::move(metas)}, {"keys", std::move(key_array)}};
}

}  // namespace kiln::edge
