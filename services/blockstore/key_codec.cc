#include "services/blockstore/key_codec.h"

#include <cstdint>

#include "common/varint.h"

namespace kiln::blockstore {
namespace {

void AppendLengthPrefixed(std::string* out, absl::string_view s) {
  AppendUvarint(out, s.size());
  out->append(s.data(), s.size());
}

}  // namespace

std::string EncodeStorePrefix(absl::string_view tenant, absl::string_view ledger, Store store) {
  std::string out;
  out.reserve(tenant.size() + ledger.size() + 5);
  AppendLengthPrefixed(&out, tenant);
  AppendLengthPrefixed(&out, ledger);
  out.push_back(static_cast<char>(store));
  return out;
}

std::string EncodeBlobKey(const BlobKey& key) {
  std::string out = EncodeStorePrefix(key.tenant, key.ledger, key.store);
  out.append(key.key);
  return out;
}

std::string PrefixUpperBound(absl::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    unsigned char last = static_cast<unsigned char>(out.back());
    if (last != 0xff) {
      out.back() = static_cast<char>(last + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

}  // namespace kiln::blockstore
