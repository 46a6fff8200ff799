// Storage key layout shared by the backends: the ledger's key prefix (LedgerRef::KeyPrefix: the
// varint-length-prefixed tenant and ledger), one store byte, then the blob key. The encoding is
// prefix-free, so all blobs of one (ledger, store) share one byte prefix and sort by key
// within it.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "common/ledger_ref.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// The prefix shared by every blob of (ledger, store).
std::string EncodeStorePrefix(const LedgerRef& ledger, Store store);

// The full storage key of `key`.
std::string EncodeBlobKey(const BlobKey& key);

// Prefix scans end at kiln::PrefixUpperBound (common/ledger_ref.h).

}  // namespace kiln::blockstore
