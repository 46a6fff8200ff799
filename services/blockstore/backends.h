// The block-store's backend schemes:
//   memory://                      blobs in process memory (tests, ephemeral use)
//   rocksdb:///abs/path[?sync=false&block_cache_mb=64&min_blob_file_bytes=4096]
//   s3://bucket[/prefix]?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true
//        [&credentials_file=/path&max_attempts=4&max_connections=32&connect_timeout_ms=5000
//         &stall_timeout_ms=15000&multipart_threshold_bytes=16777216&part_bytes=8388608
//         &unverified_objects=absent|serve&max_object_bytes=268435456]
//                                  one object per blob in an S3-compatible bucket (s3_backend.h);
//                                  credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
//                                  (/ AWS_SESSION_TOKEN) or credentials_file. Without endpoint:
//                                  AWS (https://s3.<region>.amazonaws.com, virtual-hosted).
// `sync=false` skips the WAL fsync (benchmarks only: acknowledged writes may be lost on a crash).
#pragma once

#include "common/backend_url.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// A registry with every block backend scheme registered.
const BackendRegistry<BlockBackend>& BlockBackendRegistry();

}  // namespace kiln::blockstore
