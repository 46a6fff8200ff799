#include "services/control/bundle.h"

#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "common/dag_cbor.h"
#include "common/hash_chain.h"
#include "common/status_macros.h"
#include "common/varint.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::control {
namespace {

using cbor::Value;

std::string KeysAad(absl::string_view tenant, absl::string_view ledger) {
  const std::string nul(1, '\0');
  return absl::StrCat("kiln-ledger-bundle keys", nul, tenant, nul, ledger);
}

Value TextArray(const std::vector<std::string>& items) {
  std::vector<Value> out;
  out.reserve(items.size());
  for (const std::string& s : items) out.push_back(Value::Text(s));
  return Value::Array(std::move(out));
}

// Appends one CAR section: varint(len(cid) + len(data)) cid data.
void AppendSection(std::string* out, const Cid& cid, absl::string_view data) {
  const std::string cid_bytes = cid.ToBytes();
  AppendUvarint(out, cid_bytes.size() + data.size());
  out->append(cid_bytes);
  out->append(data.data(), data.size());
}

Value EntryValue(const BundleEntry& e) {
  return Value::Map({{"cid", Value::Text(e.cid)},
                     {"data", Value::Text(e.data)},
                     {"parents", TextArray(e.parents)}});
}

// One block of the file as read: its CID, bytes and whether they hash to it.
struct Block {
  Cid cid;
  absl::string_view data;
  bool intact;
  bool named = false;
};

absl::Status Corrupt(absl::string_view what) { return absl::DataLossError(what); }

// Splits the CAR file into its root CID and blocks; only framing errors fail here.
absl::Status ReadCar(absl::string_view file, std::optional<Cid>* root, std::vector<Block>* blocks) {
  absl::string_view in = file;
  absl::StatusOr<uint64_t> header_len = ReadUvarint(&in);
  if (!header_len.ok() || *header_len > in.size()) {
    return Corrupt("CAR header: length missing or past the end of the file");
  }
  absl::StatusOr<Value> header = cbor::DecodeDagCbor(in.substr(0, *header_len));
  if (!header.ok()) return Corrupt(absl::StrCat("CAR header: ", header.status().message()));
  in.remove_prefix(*header_len);
  const Value* version = header->Find("version");
  const Value* roots = header->Find("roots");
  if (version == nullptr || version->AsUint64() != 1 || roots == nullptr ||
      roots->AsArray() == nullptr || roots->AsArray()->size() != 1 ||
      (*roots->AsArray())[0].AsLink() == nullptr) {
    return Corrupt("CAR header: not {version: 1, roots: [one CID]}");
  }
  *root = *(*roots->AsArray())[0].AsLink();
  while (!in.empty()) {
    const size_t offset = file.size() - in.size();
    absl::StatusOr<uint64_t> len = ReadUvarint(&in);
    if (!len.ok() || *len > in.size()) {
      return Corrupt(absl::StrCat("CAR section at byte ", offset, ": bad length"));
    }
    absl::string_view section = in.substr(0, *len);
    in.remove_prefix(*len);
    absl::StatusOr<Cid> cid = ReadCidBytes(&section);
    if (!cid.ok()) {
      return Corrupt(absl::StrCat("CAR section at byte ", offset, ": ", cid.status().message()));
    }
    if (cid->version() != 1 || cid->hash_code() != kMultihashSha256) {
      return Corrupt(absl::StrCat("CAR section at byte ", offset, ": block ", cid->ToString(),
                                  " is not a CIDv1 sha2-256"));
    }
    const bool intact = CidForSha256(cid->codec(), section) == *cid;
    blocks->push_back(Block{*cid, section, intact});
  }
  return absl::OkStatus();
}

// Looks up the block `link` names for `part`, marking it named; DATA_LOSS when it is not a link,
// missing, or its bytes do not hash to its CID.
class BlockIndex {
 public:
  explicit BlockIndex(std::vector<Block>* blocks) : blocks_(blocks) {
    for (size_t i = 0; i < blocks->size(); ++i) by_cid_.emplace((*blocks)[i].cid, i);
  }

  absl::StatusOr<absl::string_view> Get(const Value* link, absl::string_view part) {
    if (link == nullptr || link->AsLink() == nullptr) {
      return Corrupt(absl::StrCat(part, ": the root does not link a block"));
    }
    const Cid& cid = *link->AsLink();
    auto it = by_cid_.find(cid);
    if (it == by_cid_.end()) {
      return Corrupt(absl::StrCat(part, " (block ", cid.ToString(), "): block missing"));
    }
    Block& b = (*blocks_)[it->second];
    if (!b.intact) {
      return Corrupt(
          absl::StrCat(part, " (block ", cid.ToString(), "): bytes do not match the CID"));
    }
    b.named = true;
    return b.data;
  }

  // DATA_LOSS naming the first block no part named.
  absl::Status CheckAllNamed() const {
    for (const Block& b : *blocks_) {
      if (!b.named) {
        return Corrupt(absl::StrCat("block ", b.cid.ToString(), " is not named by the root",
                                    b.intact ? "" : " (and its bytes do not match its CID)"));
      }
    }
    return absl::OkStatus();
  }

 private:
  std::vector<Block>* blocks_;
  absl::flat_hash_map<Cid, size_t> by_cid_;
};

absl::StatusOr<const std::vector<Value>*> ArrayField(const Value& root, absl::string_view name) {
  const Value* v = root.Find(name);
  if (v == nullptr || v->AsArray() == nullptr) {
    return Corrupt(absl::StrCat("root block: field ", name, " is missing or not an array"));
  }
  return v->AsArray();
}

absl::StatusOr<std::string> TextField(const Value& map, absl::string_view name,
                                      absl::string_view part) {
  const Value* v = map.Find(name);
  if (v == nullptr || v->AsText() == nullptr) {
    return Corrupt(absl::StrCat(part, ": field ", name, " is missing or not text"));
  }
  return *v->AsText();
}

absl::StatusOr<uint64_t> UintField(const Value& map, absl::string_view name,
                                   absl::string_view part) {
  const Value* v = map.Find(name);
  if (v == nullptr || !v->AsUint64().has_value()) {
    return Corrupt(absl::StrCat(part, ": field ", name, " is missing or not an unsigned integer"));
  }
  return *v->AsUint64();
}

absl::StatusOr<std::vector<std::string>> TextList(const Value* v, absl::string_view part) {
  std::vector<std::string> out;
  if (v == nullptr || v->AsArray() == nullptr) {
    return Corrupt(absl::StrCat(part, ": not a list of text"));
  }
  for (const Value& item : *v->AsArray()) {
    if (item.AsText() == nullptr) return Corrupt(absl::StrCat(part, ": not a list of text"));
    out.push_back(*item.AsText());
  }
  return out;
}

absl::Status CheckCount(const Value& counts, absl::string_view name, size_t actual) {
  KILN_ASSIGN_OR_RETURN(uint64_t declared, UintField(counts, name, "root block counts"));
  if (declared != actual) {
    return Corrupt(absl::StrCat("root block: counts.", name, " is ", declared, " but ", actual,
                                " are listed"));
  }
  return absl::OkStatus();
}

absl::Status ReadHeader(const Value& root, LedgerBundle* out) {
  KILN_ASSIGN_OR_RETURN(std::string format, TextField(root, "format", "root block"));
  if (format != kBundleFormatName) {
    return Corrupt(absl::StrCat("root block: format is \"", format, "\", not ", kBundleFormatName));
  }
  KILN_ASSIGN_OR_RETURN(uint64_t format_version, UintField(root, "formatVersion", "root block"));
  if (format_version != kBundleFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("bundle format version ", format_version,
                                                   " is not supported (only ", kBundleFormatVersion,
                                                   ")"));
  }
  KILN_ASSIGN_OR_RETURN(out->tenant, TextField(root, "tenant", "root block"));
  KILN_ASSIGN_OR_RETURN(out->ledger, TextField(root, "ledger", "root block"));
  KILN_ASSIGN_OR_RETURN(out->version, UintField(root, "version", "root block"));
  KILN_ASSIGN_OR_RETURN(out->heads, TextList(root.Find("heads"), "root block heads"));
  const Value* head_sha = root.Find("logHeadSha256");
  if (head_sha == nullptr || head_sha->AsBytes() == nullptr) {
    return Corrupt("root block: field logHeadSha256 is missing or not bytes");
  }
  out->log_head_sha256 = *head_sha->AsBytes();
  return absl::OkStatus();
}

absl::Status ReadBlobs(const Value& root, BlockIndex* index, LedgerBundle* out) {
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* blobs, ArrayField(root, "blobs"));
  for (size_t i = 0; i < blobs->size(); ++i) {
    const Value& b = (*blobs)[i];
    const std::string part = absl::StrCat("root block blobs[", i, "]");
    KILN_ASSIGN_OR_RETURN(std::string store, TextField(b, "store", part));
    KILN_ASSIGN_OR_RETURN(std::string key, TextField(b, "key", part));
    KILN_ASSIGN_OR_RETURN(uint64_t size, UintField(b, "size", part));
    const std::string name = absl::StrCat("blob ", store, "/", key);
    KILN_ASSIGN_OR_RETURN(absl::string_view bytes, index->Get(b.Find("cid"), name));
    if (bytes.size() != size) {
      return Corrupt(absl::StrCat(name, ": ", bytes.size(), " bytes, the root says ", size));
    }
    out->blobs.push_back(BundleBlob{std::move(store), std::move(key), std::string(bytes)});
  }
  return absl::OkStatus();
}

absl::Status ReadEntries(const Value& root, BlockIndex* index, LedgerBundle* out) {
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* entries, ArrayField(root, "entries"));
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string part = absl::StrCat("meta entry ", i);
    KILN_ASSIGN_OR_RETURN(absl::string_view bytes, index->Get(&(*entries)[i], part));
    absl::StatusOr<Value> v = cbor::DecodeDagCbor(bytes);
    if (!v.ok()) return Corrupt(absl::StrCat(part, ": ", v.status().message()));
    BundleEntry e;
    KILN_ASSIGN_OR_RETURN(e.cid, TextField(*v, "cid", part));
    KILN_ASSIGN_OR_RETURN(e.data, TextField(*v, "data", part));
    KILN_ASSIGN_OR_RETURN(e.parents, TextList(v->Find("parents"), part + " parents"));
    out->entries.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status ReadLog(const Value& root, BlockIndex* index, LedgerBundle* out) {
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* log, ArrayField(root, "log"));
  std::vector<metadata::v1::LogRecord> records(log->size());
  std::vector<ChainLink> links;
  for (size_t i = 0; i < log->size(); ++i) {
    const std::string part = absl::StrCat("log record ", i + 1);
    KILN_ASSIGN_OR_RETURN(absl::string_view bytes, index->Get(&(*log)[i], part));
    if (!records[i].ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Corrupt(absl::StrCat(part, ": not a log record"));
    }
    out->log_records.emplace_back(bytes);
  }
  for (size_t i = 0; i < records.size(); ++i) {
    links.push_back({records[i].seq(), records[i].prev_sha256(), out->log_records[i]});
  }
  if (!records.empty() && (records[0].seq() != 1 || !records[0].prev_sha256().empty())) {
    return Corrupt("log record 1: the log does not start at seq 1");
  }
  if (records.empty() && !out->log_head_sha256.empty()) {
    return Corrupt("log: no records but the root names a head hash");
  }
  absl::Status chain = VerifyHashChain(links, "", out->log_head_sha256);
  if (!chain.ok()) return Corrupt(absl::StrCat("log: ", chain.message()));
  return absl::OkStatus();
}

absl::Status ReadKeys(const Value& root, BlockIndex* index, const KeySealer* sealer,
                      LedgerBundle* out) {
  const Value* keys = root.Find("keys");
  if (keys == nullptr) return Corrupt("root block: field keys is missing");
  if (keys->is_null()) {
    out->key_count = 0;
    return absl::OkStatus();
  }
  KILN_ASSIGN_OR_RETURN(absl::string_view sealed, index->Get(keys, "keys"));
  if (sealer == nullptr) return absl::OkStatus();
  absl::StatusOr<std::string> plain = sealer->Open(sealed, KeysAad(out->tenant, out->ledger));
  if (!plain.ok()) {
    return Corrupt("keys: cannot be opened with the given key file (wrong key, or altered)");
  }
  absl::StatusOr<Value> list = cbor::DecodeDagCbor(*plain);
  if (!list.ok()) return Corrupt(absl::StrCat("keys: ", list.status().message()));
  KILN_ASSIGN_OR_RETURN(out->keys, TextList(&*list, "keys"));
  if (out->keys.size() != out->key_count) {
    return Corrupt(
        absl::StrCat("keys: ", out->keys.size(), " sealed, the root says ", out->key_count));
  }
  return absl::OkStatus();
}

absl::Status CheckCounts(const Value& root, LedgerBundle* out) {
  const Value* counts = root.Find("counts");
  if (counts == nullptr || counts->AsMap() == nullptr) {
    return Corrupt("root block: field counts is missing or not a map");
  }
  KILN_ASSIGN_OR_RETURN(out->key_count, UintField(*counts, "keys", "root block counts"));
  const Value* keys = root.Find("keys");
  if (keys != nullptr && keys->is_null() && out->key_count != 0) {
    return Corrupt("root block: counts.keys is not 0 but no keys block is linked");
  }
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* blobs, ArrayField(root, "blobs"));
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* entries, ArrayField(root, "entries"));
  KILN_ASSIGN_OR_RETURN(const std::vector<Value>* log, ArrayField(root, "log"));
  KILN_RETURN_IF_ERROR(CheckCount(*counts, "blobs", blobs->size()));
  KILN_RETURN_IF_ERROR(CheckCount(*counts, "entries", entries->size()));
  return CheckCount(*counts, "logRecords", log->size());
}

}  // namespace

absl::StatusOr<std::string> WriteBundle(const LedgerBundle& bundle, const KeySealer& sealer) {
  std::vector<std::pair<Cid, std::string>> blocks;
  std::vector<Value> blobs;
  for (const BundleBlob& b : bundle.blobs) {
    Cid cid = CidForSha256(kCodecRaw, b.bytes);
    blobs.push_back(Value::Map({{"cid", Value::Link(cid)},
                                {"key", Value::Text(b.key)},
                                {"size", Value::Uint(b.bytes.size())},
                                {"store", Value::Text(b.store)}}));
    blocks.emplace_back(std::move(cid), b.bytes);
  }
  std::vector<Value> entries;
  for (const BundleEntry& e : bundle.entries) {
    std::string bytes = cbor::EncodeDagCbor(EntryValue(e));
    Cid cid = CidForSha256(kCodecDagCbor, bytes);
    entries.push_back(Value::Link(cid));
    blocks.emplace_back(std::move(cid), std::move(bytes));
  }
  std::vector<Value> log;
  for (const std::string& r : bundle.log_records) {
    Cid cid = CidForSha256(kCodecRaw, r);
    log.push_back(Value::Link(cid));
    blocks.emplace_back(std::move(cid), r);
  }
  Value keys;
  if (!bundle.keys.empty()) {
    KILN_ASSIGN_OR_RETURN(std::string sealed,
                          sealer.Seal(cbor::EncodeDagCbor(TextArray(bundle.keys)),
                                      KeysAad(bundle.tenant, bundle.ledger)));
    Cid cid = CidForSha256(kCodecRaw, sealed);
    keys = Value::Link(cid);
    blocks.emplace_back(std::move(cid), std::move(sealed));
  }
  Value counts = Value::Map({{"blobs", Value::Uint(bundle.blobs.size())},
                             {"entries", Value::Uint(bundle.entries.size())},
                             {"keys", Value::Uint(bundle.keys.size())},
                             {"logRecords", Value::Uint(bundle.log_records.size())}});
  const std::string root = cbor::EncodeDagCbor(Value::Map({
      {"blobs", Value::Array(std::move(blobs))},
      {"counts", std::move(counts)},
      {"entries", Value::Array(std::move(entries))},
      {"format", Value::Text(kBundleFormatName)},
      {"formatVersion", Value::Uint(kBundleFormatVersion)},
      {"heads", TextArray(bundle.heads)},
      {"keys", std::move(keys)},
      {"ledger", Value::Text(bundle.ledger)},
      {"log", Value::Array(std::move(log))},
      {"logHeadSha256", Value::Bytes(bundle.log_head_sha256)},
      {"tenant", Value::Text(bundle.tenant)},
      {"version", Value::Uint(bundle.version)},
  }));
  const Cid root_cid = CidForSha256(kCodecDagCbor, root);
  const std::string header = cbor::EncodeDagCbor(
      Value::Map({{"roots", Value::Array({Value::Link(root_cid)})}, {"version", Value::Uint(1)}}));
  std::string out;
  AppendUvarint(&out, header.size());
  out.append(header);
  AppendSection(&out, root_cid, root);
  absl::flat_hash_set<Cid> written;  // identical blobs under two keys share one block
  for (const auto& [cid, bytes] : blocks) {
    if (written.insert(cid).second) AppendSection(&out, cid, bytes);
  }
  return out;
}

absl::StatusOr<LedgerBundle> ReadBundle(absl::string_view file, const KeySealer* sealer) {
  std::optional<Cid> root_cid;
  std::vector<Block> blocks;
  KILN_RETURN_IF_ERROR(ReadCar(file, &root_cid, &blocks));
  BlockIndex index(&blocks);
  if (root_cid->codec() != kCodecDagCbor) return Corrupt("root block: not a DAG-CBOR CID");
  const Value root_link = Value::Link(*root_cid);
  KILN_ASSIGN_OR_RETURN(absl::string_view root_bytes, index.Get(&root_link, "root block"));
  absl::StatusOr<Value> root = cbor::DecodeDagCbor(root_bytes);
  if (!root.ok()) return Corrupt(absl::StrCat("root block: ", root.status().message()));
  if (root->AsMap() == nullptr) return Corrupt("root block: not a map");
  LedgerBundle out;
  KILN_RETURN_IF_ERROR(ReadHeader(*root, &out));
  KILN_RETURN_IF_ERROR(CheckCounts(*root, &out));
  KILN_RETURN_IF_ERROR(ReadBlobs(*root, &index, &out));
  KILN_RETURN_IF_ERROR(ReadEntries(*root, &index, &out));
  KILN_RETURN_IF_ERROR(ReadLog(*root, &index, &out));
  KILN_RETURN_IF_ERROR(ReadKeys(*root, &index, sealer, &out));
  KILN_RETURN_IF_ERROR(index.CheckAllNamed());
  return out;
}

}  // namespace kiln::control
