#include "common/ledger_ref.h"

#include "common/ids.h"
#include "common/shards.h"
#include "common/status_macros.h"
#include "common/varint.h"

namespace kiln {
namespace {

void AppendLengthPrefixed(std::string* out, absl::string_view s) {
  AppendUvarint(out, s.size());
  out->append(s.data(), s.size());
}

}  // namespace

absl::StatusOr<LedgerRef> LedgerRef::Parse(absl::string_view tenant, absl::string_view ledger,
                                           absl::string_view tenant_field,
                                           absl::string_view ledger_field) {
  KILN_RETURN_IF_ERROR(ValidateId(tenant, tenant_field));
  KILN_RETURN_IF_ERROR(ValidateId(ledger, ledger_field));
  return LedgerRef(std::string(tenant), std::string(ledger));
}

size_t LedgerRef::ShardOf(size_t shard_count) const { return ShardFor(shard_count, *this); }

std::string LedgerRef::KeyPrefix() const {
  std::string out;
  out.reserve(tenant_.size() + ledger_.size() + 4);
  AppendKeyPrefix(&out);
  return out;
}

void LedgerRef::AppendKeyPrefix(std::string* out) const {
  AppendLengthPrefixed(out, tenant_);
  AppendLengthPrefixed(out, ledger_);
}

std::string PrefixUpperBound(absl::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<unsigned char>(out.back()) == 0xff) out.pop_back();
  if (!out.empty()) out.back() = static_cast<char>(out.back() + 1);
  return out;
}

}  // namespace kiln
