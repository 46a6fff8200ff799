// Consistent on-disk copies of a live RocksDB database (rocksdb::Checkpoint).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "rocksdb/db.h"

namespace kiln {

// Flushes the memtables and writes an openable copy of `db` (SST, blob and manifest files
// hard-linked when `dir` is on the same filesystem, copied otherwise) into `dir`, which must not
// exist. Blocks; call off gRPC threads.
absl::Status CreateRocksDbCheckpoint(rocksdb::DB* db, const std::string& dir);

}  // namespace kiln
