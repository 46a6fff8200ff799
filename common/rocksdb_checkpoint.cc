#include "common/rocksdb_checkpoint.h"

#include <memory>

#include "common/rocksdb_status.h"
#include "rocksdb/utilities/checkpoint.h"

namespace kiln {

absl::Status CreateRocksDbCheckpoint(rocksdb::DB* db, const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (!s.ok()) return FromRocksDbStatus(s, "preparing a checkpoint");
  // log_size_for_flush 0: always flush, so the checkpoint needs no WAL replay.
  return FromRocksDbStatus(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                           "writing checkpoint " + dir);
}

}  // namespace kiln
