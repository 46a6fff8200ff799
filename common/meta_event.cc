#include "common/meta_event.h"

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/dag_cbor.h"
#include "common/multibase.h"
#include "common/status_macros.h"

namespace kiln {
namespace {

absl::Status MetaError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid meta entry: ", what));
}

// Parses CID text that must be in its canonical form. `field` names it in errors.
absl::StatusOr<Cid> ParseCanonicalCid(absl::string_view text, absl::string_view field) {
  absl::StatusOr<Cid> cid = ParseCid(text);
  if (!cid.ok()) {
    return MetaError(absl::StrCat(field, " is not a CID: ", cid.status().message()));
  }
  const std::string canonical = cid->ToString();
  if (canonical != text) {
    return MetaError(
        absl::StrCat(field, " is not in canonical CID text form; write it as \"", canonical, "\""));
  }
  return cid;
}

// Meta events and their parents are CIDv1 dag-cbor sha2-256 ("bafyrei...").
absl::Status CheckEventCid(const Cid& cid, absl::string_view field) {
  if (cid.version() != 1 || cid.codec() != kCodecDagCbor || cid.hash_code() != kMultihashSha256) {
    return MetaError(absl::StrFormat(
        "%s must be a CIDv1 dag-cbor (0x71) sha2-256 CID (\"bafyrei...\"), got CIDv%d with codec "
        "0x%x and multihash 0x%x",
        field, cid.version(), cid.codec(), cid.hash_code()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Cid> ParseEventCid(absl::string_view text, absl::string_view field) {
  KILN_ASSIGN_OR_RETURN(Cid cid, ParseCanonicalCid(text, field));
  KILN_RETURN_IF_ERROR(CheckEventCid(cid, field));
  return cid;
}

// Checks that the event's parent links are exactly the entry's parents, as sets.
absl::Status CheckEventParents(const cbor::Value& event, const std::vector<Cid>& entry_parents) {
  const cbor::Value* parents_value = event.Find("parents");
  const std::vector<cbor::Value>* links =
      parents_value == nullptr ? nullptr : parents_value->AsArray();
  if (links == nullptr) return MetaError("the event has no \"parents\" array");
  if (links->size() > kMaxMetaParents) {
    return MetaError(absl::StrCat("the event links ", links->size(), " parents; at most ",
                                  kMaxMetaParents, " are allowed"));
  }
  absl::flat_hash_set<Cid> event_set;
  event_set.reserve(links->size());
  for (size_t i = 0; i < links->size(); ++i) {
    const Cid* link = (*links)[i].AsLink();
    if (link == nullptr) {
      return MetaError(absl::StrCat("the event's parents[", i, "] is not a CID link"));
    }
    if (!event_set.insert(*link).second) {
      return MetaError(absl::StrCat("the event links parent ", link->ToString(), " twice"));
    }
  }
  const absl::flat_hash_set<Cid> entry_set(entry_parents.begin(), entry_parents.end());
  for (size_t i = 0; i < entry_parents.size(); ++i) {
    if (!event_set.contains(entry_parents[i])) {
      return MetaError(absl::StrCat("parents[", i, "] ", entry_parents[i].ToString(),
                                    " is not a parent link of the event; the entry's parents "
                                    "must be the same set as the event's"));
    }
  }
  for (const cbor::Value& link : *links) {
    if (!entry_set.contains(*link.AsLink())) {
      return MetaError(absl::StrCat("the event links parent ", link.AsLink()->ToString(),
                                    ", which is missing from the entry's parents"));
    }
  }
  return absl::OkStatus();
}

// Returns the dbMeta bytes of the event `{data: {dbMeta: <bytes>}, ...}`.
absl::StatusOr<absl::string_view> EventDbMeta(const cbor::Value& event) {
  const cbor::Value* data = event.Find("data");
  if (data == nullptr || data->AsMap() == nullptr) {
    return MetaError("the event has no \"data\" map");
  }
  const cbor::Value* db_meta = data->Find("dbMeta");
  if (db_meta == nullptr || db_meta->AsBytes() == nullptr) {
    return MetaError("the event's \"data\" map has no \"dbMeta\" byte string");
  }
  return absl::string_view(*db_meta->AsBytes());
}

// Parses dbMeta, dag-json `{"cars":[{"/":"<CID>"},...]}`, into its CAR CIDs.
absl::StatusOr<std::vector<Cid>> ParseDbMetaCars(absl::string_view db_meta) {
  boost::json::error_code ec;
  // The error_code overload does not throw (except bad_alloc), and validates UTF-8.
  const boost::json::value json =
      boost::json::parse(boost::json::string_view(db_meta.data(), db_meta.size()), ec);
  if (ec) return MetaError(absl::StrCat("dbMeta is not valid JSON: ", ec.message()));
  const boost::json::object* object = json.if_object();
  if (object == nullptr) return MetaError("dbMeta is not a JSON object");
  const auto cars_it = object->find("cars");
  const boost::json::array* cars = cars_it == object->end() ? nullptr : cars_it->value().if_array();
  if (cars == nullptr) return MetaError("dbMeta has no \"cars\" array");
  if (cars->empty()) return MetaError("dbMeta has an empty \"cars\" array; a commit has a CAR");
  if (cars->size() > kMaxMetaCars) {
    return MetaError(absl::StrCat("dbMeta lists ", cars->size(), " cars; at most ", kMaxMetaCars,
                                  " are allowed"));
  }
  std::vector<Cid> out;
  out.reserve(cars->size());
  for (size_t i = 0; i < cars->size(); ++i) {
    const std::string field = absl::StrCat("dbMeta cars[", i, "]");
    const boost::json::object* link = (*cars)[i].if_object();
    const boost::json::string* text = nullptr;
    if (link != nullptr && link->size() == 1) {
      const auto slash = link->find("/");
      if (slash != link->end()) text = slash->value().if_string();
    }
    if (text == nullptr) {
      return MetaError(absl::StrCat(field, " is not a dag-json link {\"/\": \"<CID>\"}"));
    }
    KILN_ASSIGN_OR_RETURN(Cid cid,
                          ParseCanonicalCid(absl::string_view(text->data(), text->size()), field));
    out.push_back(std::move(cid));
  }
  return out;
}

}  // namespace

absl::StatusOr<MetaEvent> DecodeMetaEntry(absl::string_view cid,
                                          const std::vector<std::string>& parents,
                                          absl::string_view data) {
  KILN_ASSIGN_OR_RETURN(Cid event_cid, ParseEventCid(cid, "cid"));

  if (parents.size() > kMaxMetaParents) {
    return MetaError(absl::StrCat("the entry has ", parents.size(), " parents; at most ",
                                  kMaxMetaParents, " are allowed"));
  }
  std::vector<Cid> parent_cids;
  parent_cids.reserve(parents.size());
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(parents.size());
  for (size_t i = 0; i < parents.size(); ++i) {
    const std::string field = absl::StrCat("parents[", i, "]");
    KILN_ASSIGN_OR_RETURN(Cid parent, ParseEventCid(parents[i], field));
    // Canonical text, so equal strings are equal CIDs and vice versa.
    if (!seen.insert(parents[i]).second) {
      return MetaError(absl::StrCat(field, " ", parents[i], " is listed twice"));
    }
    parent_cids.push_back(std::move(parent));
  }

  if (data.size() > kMaxMetaDataSize) {
    return MetaError(absl::StrCat("data is ", data.size(), " characters; at most ",
                                  kMaxMetaDataSize, " are allowed"));
  }
  if (data.empty() || data[0] != MultibasePrefix(Multibase::kBase64Pad)) {
    return MetaError(absl::StrCat(
        "data must be multibase base64pad text starting with 'M'",
        data.empty() ? ", got an empty string"
                     : absl::StrCat(", got prefix '", absl::CHexEscape(data.substr(0, 1)), "'")));
  }
  absl::StatusOr<std::string> block = MultibaseDecode(data);
  if (!block.ok()) {
    return MetaError(absl::StrCat("data is not valid base64pad: ", block.status().message()));
  }

  const Cid actual = CidForSha256(kCodecDagCbor, *block);
  if (actual != event_cid) {
    return MetaError(absl::StrCat("cid does not match the event bytes: data hashes to ",
                                  actual.ToString(), ", cid is ", cid));
  }

  absl::StatusOr<cbor::Value> event = cbor::DecodeDagCbor(*block);
  if (!event.ok()) {
    return MetaError(absl::StrCat("the event block is not DAG-CBOR: ", event.status().message()));
  }
  if (event->AsMap() == nullptr) return MetaError("the event block is not a DAG-CBOR map");
  KILN_ASSIGN_OR_RETURN(absl::string_view db_meta, EventDbMeta(*event));
  KILN_RETURN_IF_ERROR(CheckEventParents(*event, parent_cids));
  KILN_ASSIGN_OR_RETURN(std::vector<Cid> cars, ParseDbMetaCars(db_meta));

  return MetaEvent{std::move(event_cid), std::move(parent_cids), std::move(cars),
                   std::move(*block)};
}

EncodedMetaEntry EncodeMetaEntry(const std::vector<Cid>& cars, const std::vector<Cid>& parents) {
  // dag-json of {cars: [CID...]}: no whitespace, links as {"/": "<CID text>"}. CID text needs no
  // JSON escaping, and with a single key the dag-json key order does not arise.
  std::string db_meta = R"({"cars":[)";
  for (size_t i = 0; i < cars.size(); ++i) {
    absl::StrAppend(&db_meta, i == 0 ? "" : ",", R"({"/":")", cars[i].ToString(), R"("})");
  }
  db_meta += "]}";

  std::vector<cbor::Value> links;
  links.reserve(parents.size());
  for (const Cid& parent : parents) links.push_back(cbor::Value::Link(parent));
  const cbor::Value event = cbor::Value::Map({
      {"data", cbor::Value::Map({{"dbMeta", cbor::Value::Bytes(std::move(db_meta))}})},
      {"parents", cbor::Value::Array(std::move(links))},
  });
  const std::string block = cbor::EncodeDagCbor(event);

  EncodedMetaEntry entry;
  entry.cid = CidForSha256(kCodecDagCbor, block).ToString();
  entry.parents.reserve(parents.size());
  for (const Cid& parent : parents) entry.parents.push_back(parent.ToString());
  entry.data = MultibaseEncode(Multibase::kBase64Pad, block);
  return entry;
}

EncodedMetaEntry ToEncodedMetaEntry(const MetaEvent& event) {
  EncodedMetaEntry entry;
  entry.cid = event.cid.ToString();
  entry.parents.reserve(event.parents.size());
  for (const Cid& parent : event.parents) entry.parents.push_back(parent.ToString());
  entry.data = MultibaseEncode(Multibase::kBase64Pad, event.block);
  return entry;
}

}  // namespace kiln
