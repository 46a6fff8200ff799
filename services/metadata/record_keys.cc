#include "services/metadata/record_keys.h"

#include "absl/strings/str_cat.h"
#include "common/varint.h"

namespace kiln::metadata {
namespace {

void AppendId(std::string* out, absl::string_view id) {
  AppendUvarint(out, id.size());
  out->append(id.data(), id.size());
}

absl::StatusOr<std::string> ReadId(absl::string_view* in) {
  absl::StatusOr<uint64_t> len = ReadUvarint(in);
  if (!len.ok() || *len > in->size()) {
    return absl::InvalidArgumentError("record key has a malformed id");
  }
  std::string id(in->substr(0, *len));
  in->remove_prefix(*len);
  return id;
}

}  // namespace

std::string LedgerPrefix(RecordType type, const LedgerRef& ledger) {
  std::string out(1, static_cast<char>(type));
  ledger.AppendKeyPrefix(&out);
  return out;
}

std::string TenantHeaderPrefix(absl::string_view tenant) {
  std::string out(1, static_cast<char>(RecordType::kHeader));
  AppendId(&out, tenant);
  return out;
}

std::string SeqKey(const std::string& prefix, uint64_t seq) {
  std::string out = prefix;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
  return out;
}

absl::StatusOr<DecodedKey> DecodeRecordKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty record key");
  DecodedKey out;
  switch (key[0]) {
    case 'E':
    case 'G':
    case 'H':
    case 'K':
    case 'R':
      out.type = static_cast<RecordType>(key[0]);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("record key has unknown type byte 0x", absl::Hex(key[0] & 0xff)));
  }
  absl::string_view rest = key.substr(1);
  absl::StatusOr<std::string> tenant = ReadId(&rest);
  if (!tenant.ok()) return tenant.status();
  absl::StatusOr<std::string> ledger = ReadId(&rest);
  if (!ledger.ok()) return ledger.status();
  out.tenant = *std::move(tenant);
  out.ledger = *std::move(ledger);
  out.suffix = std::string(rest);
  return out;
}

absl::StatusOr<uint64_t> DecodeSeqSuffix(absl::string_view suffix) {
  if (suffix.size() != 8) return absl::InvalidArgumentError("log record key has a malformed seq");
  uint64_t seq = 0;
  for (char c : suffix) seq = (seq << 8) | static_cast<uint8_t>(c);
  return seq;
}

}  // namespace kiln::metadata
