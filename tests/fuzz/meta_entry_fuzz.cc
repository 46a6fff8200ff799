// Fuzz target: DecodeMetaEntry (common/meta_event.h), the check merge runs on every entry a client
// puts. The first byte picks the shape of the rest:
//   - even: the wire entry as text, "<cid>\n<parent>,<parent>...\n<data>", for the text checks;
//   - odd: the raw DAG-CBOR event bytes. The target writes the entry a client would for them (its
//     sha2-256 CID, the event's parent links as the parents, base64pad data), so mutations reach
//     the event and dbMeta checks past the hash; bits 1 and 2 of the byte drop or reverse parents.
// Properties: no crash, failures are INVALID_ARGUMENT only, and an accepted entry prints back to
// exactly the wire entry it came from (ToEncodedMetaEntry).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/dag_cbor.h"
#include "common/meta_event.h"
#include "common/multibase.h"
#include "tests/fuzz/fuzz_check.h"

namespace kiln::fuzz {
namespace {

EncodedMetaEntry FromText(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, absl::MaxSplits('\n', 2));
  lines.resize(3);
  EncodedMetaEntry entry{lines[0], {}, lines[2]};
  if (!lines[1].empty()) entry.parents = absl::StrSplit(lines[1], ',');
  return entry;
}

// The parent links of an event, as text, in the event's order (none when it does not decode).
std::vector<std::string> EventParents(absl::string_view block) {
  std::vector<std::string> out;
  absl::StatusOr<cbor::Value> event = cbor::DecodeDagCbor(block);
  if (!event.ok()) return out;
  const cbor::Value* parents = event->Find("parents");
  if (parents == nullptr || parents->AsArray() == nullptr) return out;
  for (const cbor::Value& link : *parents->AsArray()) {
    if (link.AsLink() != nullptr) out.push_back(link.AsLink()->ToString());
  }
  return out;
}

EncodedMetaEntry FromEventBytes(uint8_t selector, absl::string_view block) {
  EncodedMetaEntry entry{CidForSha256(kCodecDagCbor, block).ToString(), EventParents(block),
                         MultibaseEncode(Multibase::kBase64Pad, block)};
  if ((selector & 2) && !entry.parents.empty()) entry.parents.pop_back();
  if (selector & 4) std::reverse(entry.parents.begin(), entry.parents.end());
  return entry;
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input = kiln::fuzz::AsText(data, size);
  const uint8_t selector = kiln::fuzz::TakeSelector(&input);
  const kiln::EncodedMetaEntry entry =
      selector % 2 == 0 ? kiln::fuzz::FromText(input) : kiln::fuzz::FromEventBytes(selector, input);
  absl::StatusOr<kiln::MetaEvent> event =
      kiln::DecodeMetaEntry(entry.cid, entry.parents, entry.data);
  if (!event.ok()) {
    FUZZ_CHECK(event.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const kiln::EncodedMetaEntry again = kiln::ToEncodedMetaEntry(*event);
  FUZZ_CHECK(again.cid == entry.cid);
  FUZZ_CHECK(again.parents == entry.parents);
  FUZZ_CHECK(again.data == entry.data);
  return 0;
}
