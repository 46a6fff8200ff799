// RocksDB tickers and properties as Prometheus metrics (<prefix>wal_syncs_total,
// <prefix>write_stopped, ...), computed at scrape time. The database must have been opened with
// DBOptions::statistics set to `statistics`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"

namespace kiln {

class RocksDbStatsCollector : public prometheus::Collectable {
 public:
  // `prefix` such as "kiln_metadata_rocksdb_".
  RocksDbStatsCollector(std::string prefix, rocksdb::DB* db,
                        std::shared_ptr<rocksdb::Statistics> statistics);

  // Call before the database closes; a scrape racing with it sees no families.
  void Detach();

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string prefix_;
  mutable absl::Mutex mu_;
  rocksdb::DB* db_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<rocksdb::Statistics> statistics_;
};

// Statistics at the level the collector needs (no mutex timing).
std::shared_ptr<rocksdb::Statistics> NewRocksDbStatistics();

}  // namespace kiln
