// The Fireproof cloud protocol's messages as the edge reads and writes them: typed, with one codec.
// Decoding keeps only the fields the protocol defines (shared/docs/fireproof-cloud-protocol.md,
// sections 3-4), bounds every string, checks tenant and ledger ids against the id grammar
// (common/ids.h) and names the offending field when it refuses a message. Encoding builds replies
// and pushes from those typed fields alone, so nothing a client adds to a message is ever sent back
// (a 1 MB extra field in a bind does not come back in every push).
//
// Threading: plain values and pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/json/object.hpp"
#include "google/protobuf/repeated_ptr_field.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::edge {

inline constexpr char kMsgVersion[] = "FP-MSG-1.0";

// Every request type the edge answers.
enum class MsgType {
  kReqOpen,
  kReqGestalt,
  kReqClose,
  kReqChat,
  kBindGetMeta,
  kReqGetMeta,
  kReqPutMeta,
  kReqDelMeta,
  kReqPutData,
  kReqGetData,
  kReqDelData,
  kReqPutWAL,
  kReqGetWAL,
  kReqDelWAL,
};
inline constexpr int kMsgTypeCount = 14;

// The wire name ("reqPutMeta"), and the reply's ("resPutMeta"; "eventGetMeta" for a bind).
const char* MsgTypeName(MsgType type);
const char* ReplyTypeName(MsgType type);
// The request type called `name`, or nullopt for anything else.
std::optional<MsgType> ParseMsgType(absl::string_view name);
// Whether the message changes a ledger (and so needs a write right).
bool IsWrite(MsgType type);
// Data and WAL messages, answered with a signed URL.
bool IsBlobRequest(MsgType type);

// Bounds on what a message may carry; longer values are refused with INVALID_ARGUMENT.
inline constexpr size_t kMaxTidBytes = 256;
inline constexpr size_t kMaxConnIdBytes = 256;
inline constexpr size_t kMaxParamBytes = 1024;  // method, store, key, name, index, path
inline constexpr size_t kMaxAuthTokenBytes = 16 * 1024;
inline constexpr size_t kMaxChatBytes = 64 * 1024;

struct Conn {
  std::string req_id;
  std::string res_id;
};

struct Auth {
  std::string type;   // e.g. "fp-cloud-jwk"
  std::string token;  // params.jwk
};

struct TenantLedger {
  std::string tenant;
  std::string ledger;
  std::string app_id;  // optional
};

struct MethodParam {
  std::string method;
  std::string store;
};

struct UrlParam {
  std::string key;
  std::string store;
  std::string tenant;
  std::string ledger;
  std::string name;
  std::string index;
  std::string path;
  std::optional<double> expires;  // seconds a signed URL should stay valid
};

struct MetaEntryMsg {
  std::string cid;
  std::vector<std::string> parents;
  std::string data;
};

struct MetaMsg {
  std::vector<MetaEntryMsg> metas;
  std::vector<std::string> keys;
};

// One decoded request.
struct Message {
  MsgType type = MsgType::kReqGestalt;
  std::string tid;
  std::string version;
  std::optional<Auth> auth;
  std::optional<Conn> conn;
  std::optional<TenantLedger> tenant;
  std::optional<MethodParam> method_param;
  std::optional<UrlParam> url_param;
  std::optional<MetaMsg> meta;  // reqPutMeta (required there), reqDelMeta
  std::string chat_message;     // reqChat (required there)

  // The ledger the message is about: `tenant` first, then `urlParam`, field by field. Empty
  // strings where neither names it.
  std::string Tenant() const;
  std::string Ledger() const;
  // The token in auth.params.jwk, or "".
  const std::string& Token() const;
};

// Decodes `json`. INVALID_ARGUMENT naming the field ("tenant.ledger: ...") for a missing or unknown
// "type", a field of the wrong JSON type, a value over its bound, a tenant or ledger id outside the
// grammar, or a reqPutMeta / reqChat without its payload. Fields the protocol does not define are
// ignored.
absl::StatusOr<Message> DecodeMessage(const boost::json::object& json);

// What an error reply may say about a message that could not be decoded: its "tid" and "type",
// each only when it is a string within its bound (else "").
struct ErrorSource {
  std::string tid;
  std::string type;
};
ErrorSource ErrorSourceOf(const boost::json::object& json);

// The reply envelope for `m` with type `type`: tid, type, version, and whichever of auth, conn,
// tenant, methodParam and urlParam the request carried, as decoded (bounded) values.
boost::json::object EncodeEnvelope(const Message& m, absl::string_view type);
boost::json::object EncodeConn(const Conn& conn);

// `meta` of an eventGetMeta / resGetMeta: `entries` and `keys` as the client reads them.
boost::json::object EncodeMeta(
    const google::protobuf::RepeatedPtrField<metadata::v1::MetaEntry>& entries,
    const google::protobuf::RepeatedPtrField<std::string>& keys);

}  // namespace kiln::edge
