// One-sample Prometheus metric families, for collectors that compute their values at scrape time
// (RocksDB statistics, the block-store's composed backends). Pure; thread-safe.
#pragma once

#include <string>
#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace kiln {

// A family `name` of `type` (Counter or Gauge) holding one unlabelled sample `value`.
inline prometheus::MetricFamily SingleSampleFamily(const std::string& name, const std::string& help,
                                                   prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace kiln
