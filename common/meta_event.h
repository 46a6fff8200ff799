// The Fireproof meta entry codec: validates the entries a client puts with reqPutMeta and builds
// them the way the client does (sections 4, 6 and 7 of fireproof-cloud-protocol.md).
//
// One entry on the wire is `{cid, parents[], data}` (Fireproof's SerializedMeta, produced by
// dbMetaEvent2Serialized in core/gateways/base/fp-envelope-serialize.ts):
//   - data: multibase base64pad ("M...") of the DAG-CBOR bytes of a Pail clock event
//     `{data: {dbMeta: <bytes>}, parents: [<CID link>...]}`;
//   - dbMeta: UTF-8 dag-json `{"cars":[{"/":"baembei..."},...]}`, the CAR files of one commit;
//   - cid: the CIDv1 dag-cbor sha2-256 of those event bytes ("bafyrei...");
//   - parents: the text of the event's parent links (the writer's known meta heads).
// The event bytes are plaintext, so the server can check all of this without keys.
//
// Every CID on the wire must be in its canonical text form (Cid::ToString(): base32 "b..." for
// CIDv1), which is what clients write. The server keys meta heads and blobs by these strings and
// clients compare them as strings, so a second spelling of the same CID would break pruning.
// As a consequence ToEncodedMetaEntry(decoded) reproduces the accepted entry exactly.
//
// Threading: stateless functions, safe to call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cid.h"

namespace kiln {

// Size bounds for one entry; larger entries are rejected with INVALID_ARGUMENT. A real entry has
// a handful of parents and cars and is a few hundred bytes.
inline constexpr size_t kMaxMetaParents = 1024;
inline constexpr size_t kMaxMetaCars = 4096;
// Bound on the length of `data` in characters (the base64pad text, prefix included).
inline constexpr size_t kMaxMetaDataSize = size_t{1} << 20;

// A validated meta entry.
struct MetaEvent {
  // CIDv1 dag-cbor sha2-256 of `block`.
  Cid cid;
  // The entry's parents, in the entry's order: CIDv1 dag-cbor sha2-256, no duplicates, the same
  // set as the event's parent links.
  std::vector<Cid> parents;
  // The CAR CIDs from dbMeta, in order; at least one. Any CID (Fireproof uses codec 0x18
  // "baembei..."); duplicates are kept as sent.
  std::vector<Cid> cars;
  // The DAG-CBOR event bytes (the decoded `data`).
  std::string block;
};

// One entry in wire form, as the client sends it.
struct EncodedMetaEntry {
  std::string cid;
  std::vector<std::string> parents;
  std::string data;
};

// Validates one wire entry. Returns INVALID_ARGUMENT, with a message saying what to fix, when:
//   - cid is not a CID, not in canonical text form, or not CIDv1 dag-cbor (0x71) sha2-256;
//   - there are more than kMaxMetaParents parents, a parent is not a canonical CIDv1 dag-cbor
//     sha2-256 CID, or a parent is listed twice;
//   - data is longer than kMaxMetaDataSize, does not start with 'M', or is not valid base64pad;
//   - the sha2-256 of the decoded bytes is not cid ("cid does not match the event bytes");
//   - the bytes are not canonical DAG-CBOR (see DecodeDagCbor);
//   - the event is not a map with a `data` map holding `dbMeta` bytes and a `parents` array of
//     CID links, or it links the same parent twice;
//   - the event's parent links and the entry's parents differ as sets (order does not matter:
//     clients copy them in the same order, but the order carries no meaning);
//   - dbMeta is not UTF-8 JSON, not an object, or has no `cars` array; the array is empty or
//     longer than kMaxMetaCars; or an element is not exactly `{"/": "<canonical CID text>"}`.
// Extra keys in the event, in its `data` map and in dbMeta are ignored, so that additions by
// newer clients do not break the server.
absl::StatusOr<MetaEvent> DecodeMetaEntry(absl::string_view cid,
                                          const std::vector<std::string>& parents,
                                          absl::string_view data);

// Builds the entry a Fireproof client writes for a commit of `cars` on top of `parents`,
// byte-identical to the client's (dag-json dbMeta, DAG-CBOR event, sha2-256 CID, base64pad
// data). Parents keep their order. Does not validate: an empty `cars` or repeated parents give an
// entry that DecodeMetaEntry rejects, which tests use.
EncodedMetaEntry EncodeMetaEntry(const std::vector<Cid>& cars, const std::vector<Cid>& parents);

// The wire form of a validated event: for any event DecodeMetaEntry returned, this is exactly the
// entry it was decoded from.
EncodedMetaEntry ToEncodedMetaEntry(const MetaEvent& event);

}  // namespace kiln
