#include "services/edge/http_request_counts.h"

#include <string>
#include <utility>

namespace kiln::edge {

HttpRequestCounts::HttpRequestCounts(prometheus::Family<prometheus::Counter>& family,
                                     std::vector<std::string> routes)
    : family_(family),
      routes_(std::move(routes)),
      children_(new std::atomic<prometheus::Counter*>[routes_.size() * kCodes]) {
  for (size_t i = 0; i < routes_.size() * kCodes; ++i) children_[i] = nullptr;
}

prometheus::Counter& HttpRequestCounts::For(absl::string_view route, int code) {
  size_t r = 0;
  while (r < routes_.size() && routes_[r] != route) ++r;
  if (r == routes_.size() || code < kMinCode || code > kMaxCode) {
    return family_.Add({{"route", std::string(route)}, {"code", std::to_string(code)}});
  }
  std::atomic<prometheus::Counter*>& slot = children_[r * kCodes + (code - kMinCode)];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    // Two threads racing here get the same child: Family::Add returns the existing one.
    c = &family_.Add({{"route", routes_[r]}, {"code", std::to_string(code)}});
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

}  // namespace kiln::edge
