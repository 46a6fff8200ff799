#include "services/blockstore/backends.h"

#include "absl/strings/str_cat.h"
#include "common/rocksdb_url.h"
#include "common/status_macros.h"
#include "services/blockstore/memory_backend.h"
#include "services/blockstore/rocksdb_backend.h"
#include "services/blockstore/s3_backend.h"

namespace kiln::blockstore {
namespace {

absl::StatusOr<std::unique_ptr<BlockBackend>> MakeMemory(const BackendUrl& url) {
  KILN_RETURN_IF_ERROR(url.CheckParams({}));
  return std::unique_ptr<BlockBackend>(new MemoryBlockBackend());
}

absl::StatusOr<std::unique_ptr<BlockBackend>> MakeRocksDb(const BackendUrl& url) {
  KILN_ASSIGN_OR_RETURN(RocksDbUrlOptions rocksdb,
                        ParseRocksDbUrl(url, {"min_blob_file_bytes"}, "/var/lib/kiln/blocks"));
  RocksDbBlockBackendOptions options;
  options.path = rocksdb.path;
  options.sync = rocksdb.sync;
  options.block_cache_bytes = rocksdb.block_cache_bytes;
  KILN_ASSIGN_OR_RETURN(options.min_blob_file_value, url.UintParam("min_blob_file_bytes", 4096));
  KILN_ASSIGN_OR_RETURN(auto backend, RocksDbBlockBackend::Open(options));
  return std::unique_ptr<BlockBackend>(std::move(backend));
}

absl::StatusOr<std::unique_ptr<BlockBackend>> MakeS3(const BackendUrl& url) {
  KILN_RETURN_IF_ERROR(url.CheckParams({"endpoint", "region", "path_style", "credentials_file",
                                        "max_attempts", "max_connections", "connect_timeout_ms",
                                        "stall_timeout_ms", "multipart_threshold_bytes",
                                        "part_bytes", "unverified_objects", "max_object_bytes"}));
  S3BlockBackendOptions options;
  KILN_ASSIGN_OR_RETURN(options.client, S3ClientOptionsFromUrl(url, &options.prefix));
  KILN_ASSIGN_OR_RETURN(options.multipart_threshold,
                        url.UintParam("multipart_threshold_bytes", 16ull << 20));
  KILN_ASSIGN_OR_RETURN(options.part_bytes, url.UintParam("part_bytes", 8ull << 20));
  KILN_ASSIGN_OR_RETURN(options.max_object_bytes, url.UintParam("max_object_bytes", 256ull << 20));
  if (options.part_bytes < (5ull << 20) || options.part_bytes > (5ull << 30)) {
    return absl::InvalidArgumentError(
        "s3:// part_bytes must be between 5 MiB and 5 GiB (S3's limits for a part)");
  }
  std::string unverified = url.Param("unverified_objects", "absent");
  if (unverified != "absent" && unverified != "serve") {
    return absl::InvalidArgumentError(
        "s3:// unverified_objects must be absent (default) or serve (for direct uploads)");
  }
  options.serve_unverified = unverified == "serve";
  return std::unique_ptr<BlockBackend>(new S3BlockBackend(std::move(options)));
}

}  // namespace

const BackendRegistry<BlockBackend>& BlockBackendRegistry() {
  static const BackendRegistry<BlockBackend>* registry = [] {
    auto* r = new BackendRegistry<BlockBackend>();
    r->Register("memory", MakeMemory);
    r->Register("rocksdb", MakeRocksDb);
    r->Register("s3", MakeS3);
    return r;
  }();
  return *registry;
}

}  // namespace kiln::blockstore
