#include "services/blockstore/rocksdb_backend.h"

#include <cstring>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/rocksdb_checkpoint.h"
#include "common/rocksdb_stats.h"
#include "common/rocksdb_status.h"
#include "glog/logging.h"
#include "prometheus/metric_family.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "services/blockstore/key_codec.h"

namespace kiln::blockstore {
namespace {

constexpr char kFormatV1 = 1;
constexpr size_t kBlobHeader = 1 + 32;      // format, sha256
constexpr size_t kStatRecord = 1 + 8 + 32;  // format, size (little endian), sha256
constexpr char kStatsFamily[] = "stats";

std::string EncodeStat(uint64_t size, const Sha256Digest& digest) {
  std::string out(kStatRecord, '\0');
  out[0] = kFormatV1;
  for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 9, digest.data(), 32);
  return out;
}

absl::StatusOr<BlobInfo> DecodeStat(absl::string_view rec) {
  if (rec.size() != kStatRecord || rec[0] != kFormatV1) {
    return absl::DataLossError("stored blob record is damaged (bad stats record)");
  }
  BlobInfo info;
  for (int i = 0; i < 8; ++i) {
    info.size |= static_cast<uint64_t>(static_cast<unsigned char>(rec[1 + i])) << (8 * i);
  }
  std::memcpy(info.sha256.data(), rec.data() + 9, 32);
  return info;
}

// A blob whose bytes stay pinned in RocksDB's memory (or a buffer it owns) until destruction.
class PinnedBlob : public Blob {
 public:
  PinnedBlob(std::unique_ptr<rocksdb::PinnableSlice> value, const BlobInfo& info)
      : value_(std::move(value)) {
    info_ = info;
  }
  absl::string_view data() const override {
    return absl::string_view(value_->data() + kBlobHeader, value_->size() - kBlobHeader);
  }

 private:
  std::unique_ptr<rocksdb::PinnableSlice> value_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbBlockBackend>> RocksDbBlockBackend::Open(
    const RocksDbBlockBackendOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.statistics = NewRocksDbStatistics();
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // RocksDB caps a write group at 1 MiB by default, so large puts would each pay their own fsync;
  // let concurrent puts of up to 32 MiB in all share one.
  db_options.max_write_batch_group_size_bytes = 32 << 20;
  db_options.keep_log_file_num = 5;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;

  // Blob bytes are mostly encrypted CARs: incompressible, large, written once. Keep values of
  // min_blob_file_value bytes and more in blob files so compactions do not rewrite them.
  rocksdb::ColumnFamilyOptions blobs;
  blobs.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  blobs.compression = rocksdb::kNoCompression;
  blobs.enable_blob_files = true;
  blobs.min_blob_size = options.min_blob_file_value;
  blobs.blob_compression_type = rocksdb::kNoCompression;
  blobs.enable_blob_garbage_collection = true;
  blobs.write_buffer_size = 128 << 20;

  // Small fixed-size records read by point lookups (existence checks): bloom filters help misses.
  rocksdb::BlockBasedTableOptions stats_table = table;
  stats_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions stats;
  stats.table_factory.reset(rocksdb::NewBlockBasedTableFactory(stats_table));

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kBlobsFamily, blobs},
      {kStatsFamily, stats}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, families, &handles, &db);
  if (!s.ok()) {
    absl::Status st = FromRocksDbStatus(s, absl::StrCat("opening RocksDB at ", options.path));
    if (st.code() == absl::StatusCode::kInternal) st = absl::UnavailableError(st.message());
    return st;
  }
  return std::unique_ptr<RocksDbBlockBackend>(
      new RocksDbBlockBackend(options, db, std::move(handles), db_options.statistics));
}

RocksDbBlockBackend::RocksDbBlockBackend(const RocksDbBlockBackendOptions& options, rocksdb::DB* db,
                                         std::vector<rocksdb::ColumnFamilyHandle*> handles,
                                         std::shared_ptr<rocksdb::Statistics> statistics)
    : options_(options),
      db_(db),
      handles_(std::move(handles)),
      blobs_cf_(handles_[1]),
      stats_cf_(handles_[2]),
      statistics_(std::move(statistics)),
      collector_(
          std::make_shared<RocksDbStatsCollector>("kiln_blockstore_rocksdb_", db_, statistics_)) {}

RocksDbBlockBackend::~RocksDbBlockBackend() {
  collector_->Detach();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  rocksdb::Status s = db_->Close();
  if (!s.ok()) LOG(ERROR) << "closing RocksDB: " << s.ToString();
  delete db_;
}

absl::Mutex& RocksDbBlockBackend::StripeFor(absl::string_view storage_key) {
  return stripes_[absl::HashOf(storage_key) % stripes_.size()];
}

absl::StatusOr<std::optional<BlobInfo>> RocksDbBlockBackend::ReadInfo(
    absl::string_view storage_key) {
  rocksdb::PinnableSlice rec;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), stats_cf_,
                               rocksdb::Slice(storage_key.data(), storage_key.size()), &rec);
  if (s.IsNotFound()) return std::optional<BlobInfo>();
  if (!s.ok()) return FromRocksDbStatus(s, "reading blob stats");
  absl::StatusOr<BlobInfo> info = DecodeStat(absl::string_view(rec.data(), rec.size()));
  if (!info.ok()) return info.status();
  return std::optional<BlobInfo>(*info);
}

absl::StatusOr<PutOutcome> RocksDbBlockBackend::Put(const BlobKey& key, absl::string_view data,
                                                    const Sha256Digest& digest) {
  std::string k = EncodeBlobKey(key);
  absl::MutexLock lock(&StripeFor(k));
  absl::StatusOr<std::optional<BlobInfo>> existing = ReadInfo(k);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    if ((*existing)->sha256 == digest && (*existing)->size == data.size()) {
      return PutOutcome::kAlreadyPresent;
    }
    return absl::AlreadyExistsError(
        "the key already holds different bytes; the first blob is kept");
  }
  char header[kBlobHeader];
  header[0] = kFormatV1;
  std::memcpy(header + 1, digest.data(), 32);
  rocksdb::Slice value_parts[2] = {rocksdb::Slice(header, kBlobHeader),
                                   rocksdb::Slice(data.data(), data.size())};
  rocksdb::Slice key_slice(k);
  rocksdb::WriteBatch batch;
  rocksdb::Status s =
      batch.Put(blobs_cf_, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(value_parts, 2));
  if (s.ok()) s = batch.Put(stats_cf_, key_slice, EncodeStat(data.size(), digest));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (s.ok()) s = db_->Write(wo, &batch);
  if (!s.ok()) return FromRocksDbStatus(s, "writing blob");
  return PutOutcome::kCreated;
}

absl::StatusOr<std::unique_ptr<Blob>> RocksDbBlockBackend::Get(const BlobKey& key) {
  std::string k = EncodeBlobKey(key);
  auto value = std::make_unique<rocksdb::PinnableSlice>();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), blobs_cf_, k, value.get());
  if (s.IsNotFound()) return absl::NotFoundError("blob not found");
  if (s.IsCorruption()) {
    return absl::DataLossError("stored blob is damaged (storage checksum mismatch)");
  }
  if (!s.ok()) return FromRocksDbStatus(s, "reading blob");
  if (value->size() < kBlobHeader || value->data()[0] != kFormatV1) {
    return absl::DataLossError("stored blob record is damaged (bad header)");
  }
  BlobInfo info;
  info.size = value->size() - kBlobHeader;
  std::memcpy(info.sha256.data(), value->data() + 1, 32);
  absl::string_view bytes(value->data() + kBlobHeader, info.size);
  if (Sha256(bytes) != info.sha256) {
    return absl::DataLossError("stored blob does not match its SHA-256; refusing to serve it");
  }
  return std::unique_ptr<Blob>(new PinnedBlob(std::move(value), info));
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> RocksDbBlockBackend::BatchStat(
    const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) {
  std::string prefix = EncodeStorePrefix(ledger, store);
  std::vector<std::string> storage_keys;
  storage_keys.reserve(keys.size());
  for (const auto& key : keys) storage_keys.push_back(prefix + key);
  std::vector<rocksdb::Slice> slices(storage_keys.begin(), storage_keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), stats_cf_, slices.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<std::optional<BlobInfo>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.emplace_back(std::nullopt);
      continue;
    }
    if (!statuses[i].ok()) return FromRocksDbStatus(statuses[i], "reading blob stats");
    absl::StatusOr<BlobInfo> info =
        DecodeStat(absl::string_view(values[i].data(), values[i].size()));
    if (!info.ok()) return info.status();
    out.emplace_back(*info);
  }
  return out;
}

absl::Status RocksDbBlockBackend::Delete(const BlobKey& key) {
  std::string k = EncodeBlobKey(key);
  absl::MutexLock lock(&StripeFor(k));
  absl::StatusOr<std::optional<BlobInfo>> existing = ReadInfo(k);
  if (!existing.ok()) return existing.status();
  if (!existing->has_value()) return absl::NotFoundError("blob not found");
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Delete(blobs_cf_, k);
  if (s.ok()) s = batch.Delete(stats_cf_, k);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (s.ok()) s = db_->Write(wo, &batch);
  return FromRocksDbStatus(s, "deleting blob");
}

absl::StatusOr<ListPage> RocksDbBlockBackend::List(const LedgerRef& ledger, Store store,
                                                   absl::string_view start_after, size_t limit) {
  std::string prefix = EncodeStorePrefix(ledger, store);
  std::string upper = PrefixUpperBound(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, stats_cf_));
  std::string start = prefix + std::string(start_after);
  ListPage page;
  for (it->Seek(start); it->Valid(); it->Next()) {
    absl::string_view k(it->key().data(), it->key().size());
    if (!start_after.empty() && k == start) continue;
    if (page.entries.size() == limit) {
      page.more = true;
      break;
    }
    absl::StatusOr<BlobInfo> info =
        DecodeStat(absl::string_view(it->value().data(), it->value().size()));
    if (!info.ok()) return info.status();
    page.entries.push_back({std::string(k.substr(prefix.size())), info->size});
  }
  if (!it->status().ok()) return FromRocksDbStatus(it->status(), "listing blobs");
  return page;
}

absl::Status RocksDbBlockBackend::Checkpoint(const std::string& dir) {
  return CreateRocksDbCheckpoint(db_, dir);
}

std::shared_ptr<prometheus::Collectable> RocksDbBlockBackend::StatsCollector() {
  return collector_;
}

}  // namespace kiln::blockstore
