#include "services/blockstore/stats_collectors.h"

#include <set>
#include <utility>

#include "common/metric_families.h"

namespace kiln::blockstore {

prometheus::MetricFamily CounterFamily(const std::string& name, const std::string& help,
                                       double value) {
  return SingleSampleFamily(name, help, prometheus::MetricType::Counter, value);
}

prometheus::MetricFamily GaugeFamily(const std::string& name, const std::string& help,
                                     double value) {
  return SingleSampleFamily(name, help, prometheus::MetricType::Gauge, value);
}

CombinedCollector::CombinedCollector(std::function<std::vector<prometheus::MetricFamily>()> own,
                                     std::vector<std::shared_ptr<prometheus::Collectable>> children)
    : own_(std::move(own)), children_(std::move(children)) {}

std::vector<prometheus::MetricFamily> CombinedCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out =
      own_ ? own_() : std::vector<prometheus::MetricFamily>{};
  std::set<std::string> seen;
  for (const auto& f : out) seen.insert(f.name);
  for (const auto& child : children_) {
    if (child == nullptr) continue;
    for (auto& f : child->Collect()) {
      if (seen.insert(f.name).second) out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace kiln::blockstore
