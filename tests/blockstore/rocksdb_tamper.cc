#include "tests/blockstore/rocksdb_tamper.h"

#include <memory>
#include <vector>

#include "rocksdb/db.h"
#include "services/blockstore/key_codec.h"
#include "services/blockstore/rocksdb_backend.h"

namespace kiln::blockstore::testing {

absl::Status FlipStoredPayloadBit(const std::string& db_path, const BlobKey& key, size_t offset) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                           {RocksDbBlockBackend::kBlobsFamily, {}},
                                                           {"stats", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), db_path, families, &handles, &raw);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::string k = EncodeBlobKey(key);
  std::string value;
  s = raw->Get(rocksdb::ReadOptions(), handles[1], k, &value);
  if (s.ok()) {
    value[33 + offset] ^= 0x01;  // 33 = format byte + sha256
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = raw->Put(wo, handles[1], k, value);
  }
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
  raw->Close();
  delete raw;
  return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
}

}  // namespace kiln::blockstore::testing
