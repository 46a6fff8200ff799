// Backend specs: a plain backend URL (backends.h) or a wrapper that composes others,
//   cache(FRONT, BACK[, max_bytes=N][, max_blob_bytes=M])
//                                       FRONT (memory:// or rocksdb://) caches BACK, LRU by bytes
//                                       (N, default 256 MiB), blobs up to M (default 16 MiB)
//   mirror(FIRST, SECOND)               every blob in both; reads from the first that has it
// Arguments are specs themselves, so wrappers nest:
//   cache(memory://, mirror(rocksdb:///var/lib/kiln/blocks, s3://kiln/blobs?endpoint=...))
// Arguments are split at top-level commas; whitespace around them is ignored. A URL inside a
// wrapper must not contain a ',' or an unbalanced parenthesis outside nested wrappers. Options
// are `name=value` arguments after the backends. Pure parsing plus the factories; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// A parsed wrapper call: `name(args...)`.
struct WrapperCall {
  std::string name;
  std::vector<std::string> args;
};

// Parses `spec` as a wrapper call. Returns nullopt-like NOT_FOUND when `spec` is not of the form
// `name(...)` (then it is a plain URL), INVALID_ARGUMENT for unbalanced parentheses or an empty
// argument.
absl::StatusOr<WrapperCall> ParseWrapperCall(absl::string_view spec);

// Opens the backend `spec` names. INVALID_ARGUMENT saying what is wrong (and in which argument of
// which wrapper) for a bad spec; otherwise whatever the backend's factory returns.
absl::StatusOr<std::unique_ptr<BlockBackend>> CreateBlockBackend(absl::string_view spec);

}  // namespace kiln::blockstore
