#include "services/metadata/kv_backends.h"

#include <array>
#include <map>
#include <memory>

#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "common/rocksdb_checkpoint.h"
#include "common/rocksdb_stats.h"
#include "common/rocksdb_status.h"
#include "common/rocksdb_url.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "services/metadata/postgres_kv.h"

namespace kiln::metadata {
namespace {

absl::Status ConditionFailed() {
  return absl::AbortedError("the record changed since it was read");
}

class MemoryKv : public KvBackend {
 public:
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    absl::ReaderMutexLock lock(&mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      absl::Span<const std::string> keys) override {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const auto& key : keys) {
      auto it = map_.find(key);
      out.push_back(it == map_.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    return out;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(absl::string_view start,
                                                                        absl::string_view end,
                                                                        size_t limit) override {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = map_.lower_bound(std::string(start));
         it != map_.end() && it->first < end && out.size() < limit; ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  absl::Status Write(const std::vector<std::pair<std::string, std::string>>& puts) override {
    absl::MutexLock lock(&mu_);
    for (const auto& [k, v] : puts) map_[k] = v;
    return absl::OkStatus();
  }

  absl::Status WriteIf(const WriteCondition& condition,
                       const std::vector<std::pair<std::string, std::string>>& puts) override {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(condition.key);
    std::optional<std::string> current;
    if (it != map_.end()) current = it->second;
    if (current != condition.expected) return ConditionFailed();
    for (const auto& [k, v] : puts) map_[k] = v;
    return absl::OkStatus();
  }

  absl::Status DeleteRanges(
      const std::vector<std::pair<std::string, std::string>>& ranges) override {
    absl::MutexLock lock(&mu_);
    for (const auto& [start, end] : ranges) {
      if (!(start < end)) continue;
      map_.erase(map_.lower_bound(start), map_.lower_bound(end));
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> map_ ABSL_GUARDED_BY(mu_);
};

class RocksDbKv : public KvBackend {
 public:
  static absl::StatusOr<std::unique_ptr<KvBackend>> Open(const std::string& path, bool sync,
                                                         uint64_t cache_bytes) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.max_background_jobs = 2;
    options.keep_log_file_num = 5;
    options.statistics = NewRocksDbStatistics();
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(cache_bytes);
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
    if (!s.ok()) {
      absl::Status st = FromRocksDbStatus(s, "opening RocksDB at " + path);
      if (st.code() == absl::StatusCode::kInternal) st = absl::UnavailableError(st.message());
      return st;
    }
    return std::unique_ptr<KvBackend>(new RocksDbKv(db, sync, options.statistics));
  }

  ~RocksDbKv() override {
    collector_->Detach();
    rocksdb::Status s = db_->Close();
    if (!s.ok()) LOG(ERROR) << "closing RocksDB: " << s.ToString();
    delete db_;
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocksDbStatus(s, "reading metadata");
    return std::optional<std::string>(std::move(value));
  }

  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      absl::Span<const std::string> keys) override {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<std::string> values;
    std::vector<rocksdb::Status> statuses = db_->MultiGet(rocksdb::ReadOptions(), slices, &values);
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        out.emplace_back(std::nullopt);
      } else if (!statuses[i].ok()) {
        return FromRocksDbStatus(statuses[i], "reading metadata");
      } else {
        out.emplace_back(std::move(values[i]));
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(absl::string_view start,
                                                                        absl::string_view end,
                                                                        size_t limit) override {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(end.data(), end.size());
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    std::vector<std::pair<std::string, std::string>> out;
    for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid() && out.size() < limit;
         it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    if (!it->status().ok()) return FromRocksDbStatus(it->status(), "scanning metadata");
    return out;
  }

  // One process owns the database: a striped lock on the condition's key makes the read-compare-
  // write atomic (WriteIf is the only writer of conditioned records).
  absl::Status WriteIf(const WriteCondition& condition,
                       const std::vector<std::pair<std::string, std::string>>& puts) override {
    absl::MutexLock lock(&condition_locks_[absl::HashOf(condition.key) % condition_locks_.size()]);
    KILN_ASSIGN_OR_RETURN(std::optional<std::string> current, Get(condition.key));
    if (current != condition.expected) return ConditionFailed();
    return Write(puts);
  }

  absl::Status Write(const std::vector<std::pair<std::string, std::string>>& puts) override {
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : puts) {
      rocksdb::Status s = batch.Put(k, v);
      if (!s.ok()) return FromRocksDbStatus(s, "building metadata batch");
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    return FromRocksDbStatus(db_->Write(wo, &batch), "writing metadata");
  }

  absl::Status DeleteRanges(
      const std::vector<std::pair<std::string, std::string>>& ranges) override {
    rocksdb::WriteBatch batch;
    for (const auto& [start, end] : ranges) {
      if (!(start < end)) continue;
      rocksdb::Status s = batch.DeleteRange(start, end);
      if (!s.ok()) return FromRocksDbStatus(s, "building metadata delete");
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    return FromRocksDbStatus(db_->Write(wo, &batch), "deleting metadata");
  }

  std::shared_ptr<prometheus::Collectable> StatsCollector() override { return collector_; }

  absl::Status Checkpoint(const std::string& dir) override {
    return CreateRocksDbCheckpoint(db_, dir);
  }

 private:
  RocksDbKv(rocksdb::DB* db, bool sync, std::shared_ptr<rocksdb::Statistics> statistics)
      : db_(db),
        sync_(sync),
        collector_(std::make_shared<RocksDbStatsCollector>("kiln_metadata_rocksdb_", db,
                                                           std::move(statistics))) {}
  rocksdb::DB* db_;
  bool sync_;
  std::array<absl::Mutex, 256> condition_locks_;
  std::shared_ptr<RocksDbStatsCollector> collector_;
};

absl::StatusOr<std::unique_ptr<KvBackend>> MakeMemory(const BackendUrl& url) {
  KILN_RETURN_IF_ERROR(url.CheckParams({}));
  return std::unique_ptr<KvBackend>(new MemoryKv());
}

absl::StatusOr<std::unique_ptr<KvBackend>> MakeRocksDb(const BackendUrl& url) {
  KILN_ASSIGN_OR_RETURN(RocksDbUrlOptions rocksdb, ParseRocksDbUrl(url, {}, "/var/lib/kiln/meta"));
  return RocksDbKv::Open(rocksdb.path, rocksdb.sync, rocksdb.block_cache_bytes);
}

}  // namespace

const BackendRegistry<KvBackend>& KvBackendRegistry() {
  static const BackendRegistry<KvBackend>* registry = [] {
    auto* r = new BackendRegistry<KvBackend>();
    r->Register("memory", MakeMemory);
    r->Register("rocksdb", MakeRocksDb);
    r->Register("postgres", [](const BackendUrl& url) { return OpenPostgresKv(url, {}); });
    r->Register("postgresql", [](const BackendUrl& url) { return OpenPostgresKv(url, {}); });
    return r;
  }();
  return *registry;
}

}  // namespace kiln::metadata
