// Prometheus counters and gauges without labels: a family with one child, registered once (at a
// component's construction) and then updated through the returned reference. Header-only;
// thread-safe as prometheus-cpp's registry and metrics are.
#pragma once

#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace kiln {

// Registers the counter `name` (kiln_<service>_..._total, STYLE.md) in `registry` and returns
// its only child, which lives as long as `registry`. prometheus-cpp throws (std::invalid_argument)
// on an invalid name or on a name already registered with another type or help text: a
// programming error, so call these only at construction, where it ends the process at startup.
inline prometheus::Counter& UnlabelledCounter(prometheus::Registry& registry,
                                              const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

// The same for a gauge.
inline prometheus::Gauge& UnlabelledGauge(prometheus::Registry& registry, const std::string& name,
                                          const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace kiln
