// Test-only: damages a blob stored by RocksDbBlockBackend, going around the backend, to prove
// that reads detect it. The database must not be open elsewhere.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore::testing {

// Flips one bit of the blob's payload byte at `offset` (after the record header), rewriting the
// record through RocksDB so only our own SHA-256 check can notice.
absl::Status FlipStoredPayloadBit(const std::string& db_path, const BlobKey& key, size_t offset);

}  // namespace kiln::blockstore::testing
