#include "services/blockstore/key_codec.h"

namespace kiln::blockstore {

std::string EncodeStorePrefix(absl::string_view tenant, absl::string_view ledger, Store store) {
  std::string out;
  out.reserve(tenant.size() + ledger.size() + 5);
  AppendLedgerKeyPrefix(&out, tenant, ledger);
  out.push_back(static_cast<char>(store));
  return out;
}

std::string EncodeBlobKey(const BlobKey& key) {
  std::string out = EncodeStorePrefix(key.tenant, key.ledger, key.store);
  out.append(key.key);
  return out;
}

}  // namespace kiln::blockstore
