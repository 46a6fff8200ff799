// The children of kiln_edge_http_requests_total{route,code} that the HTTP sessions increment, one
// per (route label, status code), each created on first use and then reached through an array
// instead of the family's label lookup (building a label map, hashing it and taking the family's
// lock on every request). A child appears in the exposition only once it has been used, as with
// Family::Add. A label outside the ones given, or a code outside 100-599, is counted through
// Family::Add. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"

namespace kiln::edge {

class HttpRequestCounts {
 public:
  // `routes`: the route labels requests are counted under (RouteTable::Labels). `family` must
  // outlive this object.
  HttpRequestCounts(prometheus::Family<prometheus::Counter>& family,
                    std::vector<std::string> routes);

  // The child for (route, code).
  prometheus::Counter& For(absl::string_view route, int code);

 private:
  static constexpr int kMinCode = 100;
  static constexpr int kMaxCode = 599;
  static constexpr int kCodes = kMaxCode - kMinCode + 1;

  prometheus::Family<prometheus::Counter>& family_;
  const std::vector<std::string> routes_;
  std::unique_ptr<std::atomic<prometheus::Counter*>[]> children_;  // routes_.size() * kCodes
};

}  // namespace kiln::edge
