// Scrape-time metric families for backends that compose others: a counter/gauge family builder
// and a collector that merges its own families with those of the wrapped backends. Thread-safe
// (Collect only reads atomics the backends own through shared pointers).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace kiln::blockstore {

// One unlabelled counter (or gauge) sample as a family.
prometheus::MetricFamily CounterFamily(const std::string& name, const std::string& help,
                                       double value);
prometheus::MetricFamily GaugeFamily(const std::string& name, const std::string& help,
                                     double value);

// Collects `own()` plus every child's families; a family name already emitted is skipped (two
// wrapped backends of one kind, such as mirror(rocksdb, rocksdb), report the first one's).
class CombinedCollector : public prometheus::Collectable {
 public:
  CombinedCollector(std::function<std::vector<prometheus::MetricFamily>()> own,
                    std::vector<std::shared_ptr<prometheus::Collectable>> children);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<std::vector<prometheus::MetricFamily>()> own_;
  std::vector<std::shared_ptr<prometheus::Collectable>> children_;
};

}  // namespace kiln::blockstore
