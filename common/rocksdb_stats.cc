#include "common/rocksdb_stats.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metric_families.h"

namespace kiln {
RocksDbStatsCollector::RocksDbStatsCollector(std::string prefix, rocksdb::DB* db,
                                             std::shared_ptr<rocksdb::Statistics> statistics)
    : prefix_(std::move(prefix)), db_(db), statistics_(std::move(statistics)) {}

void RocksDbStatsCollector::Detach() {
  absl::MutexLock lock(&mu_);
  db_ = nullptr;
}

std::vector<prometheus::MetricFamily> RocksDbStatsCollector::Collect() const {
  absl::MutexLock lock(&mu_);
  std::vector<prometheus::MetricFamily> out;
  if (db_ == nullptr) return out;
  using prometheus::MetricType;
  auto ticker = [&](const char* name, const char* help, rocksdb::Tickers t, double scale = 1) {
    out.push_back(SingleSampleFamily(absl::StrCat(prefix_, name), help, MetricType::Counter,
                                     static_cast<double>(statistics_->getTickerCount(t)) * scale));
  };
  ticker("wal_syncs_total", "WAL fsyncs performed.", rocksdb::WAL_FILE_SYNCED);
  ticker("wal_bytes_total", "Bytes written to the WAL.", rocksdb::WAL_FILE_BYTES);
  ticker("writes_by_leader_total", "Writes performed by the writing thread itself.",
         rocksdb::WRITE_DONE_BY_SELF);
  ticker("writes_grouped_total", "Writes committed by another thread's write group (group commit).",
         rocksdb::WRITE_DONE_BY_OTHER);
  ticker("flush_bytes_total", "Bytes written by memtable flushes.", rocksdb::FLUSH_WRITE_BYTES);
  ticker("compaction_write_bytes_total", "Bytes written by compactions.",
         rocksdb::COMPACT_WRITE_BYTES);
  ticker("blob_file_bytes_written_total", "Bytes written to blob files.",
         rocksdb::BLOB_DB_BLOB_FILE_BYTES_WRITTEN);
  ticker("block_cache_hits_total", "Block cache hits.", rocksdb::BLOCK_CACHE_HIT);
  ticker("block_cache_misses_total", "Block cache misses.", rocksdb::BLOCK_CACHE_MISS);
  ticker("stall_seconds_total", "Time writers were stalled by RocksDB write throttling.",
         rocksdb::STALL_MICROS, 1e-6);
  auto prop = [&](const char* name, const char* help, const char* property, MetricType type) {
    uint64_t v = 0;
    if (db_->GetAggregatedIntProperty(property, &v)) {
      out.push_back(
          SingleSampleFamily(absl::StrCat(prefix_, name), help, type, static_cast<double>(v)));
    }
  };
  prop("live_data_bytes", "Estimated size of live data in SST files.",
       "rocksdb.estimate-live-data-size", MetricType::Gauge);
  prop("live_blob_file_bytes", "Size of live blob files.", "rocksdb.live-blob-file-size",
       MetricType::Gauge);
  prop("memtable_bytes", "Memory used by memtables.", "rocksdb.cur-size-all-mem-tables",
       MetricType::Gauge);
  prop("pending_compaction_bytes", "Estimated bytes compaction still has to rewrite.",
       "rocksdb.estimate-pending-compaction-bytes", MetricType::Gauge);
  prop("running_compactions", "Compactions running now.", "rocksdb.num-running-compactions",
       MetricType::Gauge);
  prop("background_errors_total", "Background errors (flush/compaction failures).",
       "rocksdb.background-errors", MetricType::Counter);
  prop("write_stopped", "1 while RocksDB has stopped writes (stall), else 0.",
       "rocksdb.is-write-stopped", MetricType::Gauge);
  return out;
}

std::shared_ptr<rocksdb::Statistics> NewRocksDbStatistics() {
  std::shared_ptr<rocksdb::Statistics> s = rocksdb::CreateDBStatistics();
  s->set_stats_level(rocksdb::StatsLevel::kExceptTimeForMutex);
  return s;
}

}  // namespace kiln
