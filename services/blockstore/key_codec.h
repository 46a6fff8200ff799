// Storage key layout shared by the backends: varint-length-prefixed tenant and ledger, one store
// byte, then the blob key. The encoding is prefix-free, so all blobs of one (tenant, ledger, store)
// share one byte prefix and sort by key within it.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// The prefix shared by every blob of (tenant, ledger, store).
std::string EncodeStorePrefix(absl::string_view tenant, absl::string_view ledger, Store store);

// The full storage key of `key`.
std::string EncodeBlobKey(const BlobKey& key);

// The smallest string greater than every string starting with `prefix` (an exclusive upper bound
// for a prefix scan); empty when there is none (prefix of all 0xff bytes).
std::string PrefixUpperBound(absl::string_view prefix);

}  // namespace kiln::blockstore
