#include "services/blockstore/key_codec.h"

namespace kiln::blockstore {

std::string EncodeStorePrefix(const LedgerRef& ledger, Store store) {
  std::string out;
  out.reserve(ledger.tenant().size() + ledger.ledger().size() + 5);
  ledger.AppendKeyPrefix(&out);
  out.push_back(static_cast<char>(store));
  return out;
}

std::string EncodeBlobKey(const BlobKey& key) {
  std::string out = EncodeStorePrefix(key.ledger, key.store);
  out.append(key.key);
  return out;
}

}  // namespace kiln::blockstore
