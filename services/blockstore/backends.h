// The block-store's backend schemes:
//   memory://                      blobs in process memory (tests, ephemeral use)
//   rocksdb:///abs/path[?sync=false&block_cache_mb=64&min_blob_file_bytes=4096]
// `sync=false` skips the WAL fsync (benchmarks only: acknowledged writes may be lost on a crash).
#pragma once

#include "common/backend_url.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// A registry with every block backend scheme registered.
const BackendRegistry<BlockBackend>& BlockBackendRegistry();

}  // namespace kiln::blockstore
