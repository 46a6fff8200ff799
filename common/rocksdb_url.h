// The part of a rocksdb:// backend URL that every RocksDB backend reads the same way
// (rocksdb:///ABSOLUTE/PATH?sync=BOOL&block_cache_mb=N), so that the block-store and metadata
// accept one grammar with one set of messages. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/backend_url.h"

namespace kiln {

struct RocksDbUrlOptions {
  std::string path;
  bool sync = true;                          // `sync`, default true: fsync every write
  uint64_t block_cache_bytes = 64ull << 20;  // `block_cache_mb`, default 64
};

// Reads a rocksdb:// URL's path, `sync` and `block_cache_mb`. `more_params` are the parameters
// the caller's backend reads itself; `example_path` is shown when the path is bad. Returns
// INVALID_ARGUMENT for a parameter that is neither common nor in `more_params`, a host, a
// missing or relative path, or a bad value.
absl::StatusOr<RocksDbUrlOptions> ParseRocksDbUrl(const BackendUrl& url,
                                                  const std::vector<std::string>& more_params,
                                                  absl::string_view example_path);

}  // namespace kiln
