#include "common/rocksdb_url.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kiln {

absl::StatusOr<RocksDbUrlOptions> ParseRocksDbUrl(const BackendUrl& url,
                                                  const std::vector<std::string>& more_params,
                                                  absl::string_view example_path) {
  std::vector<std::string> known = {"sync", "block_cache_mb"};
  known.insert(known.end(), more_params.begin(), more_params.end());
  KILN_RETURN_IF_ERROR(url.CheckParams(known));
  if (!url.host.empty() || url.path.empty() || url.path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "rocksdb backend URL needs an absolute path and no host: rocksdb://", example_path));
  }
  RocksDbUrlOptions options;
  options.path = url.path;
  KILN_ASSIGN_OR_RETURN(options.sync, url.BoolParam("sync", true));
  KILN_ASSIGN_OR_RETURN(uint64_t cache_mb, url.UintParam("block_cache_mb", 64));
  options.block_cache_bytes = cache_mb << 20;
  return options;
}

}  // namespace kiln
