// The children of a labelled Prometheus counter family that a hot path increments, each created
// on first use and then reached through an array instead of the family's label lookup (a hash of
// the labels and a map under a lock on every increment). A child appears in the exposition only
// once it has been used, as with Family::Add. Thread-safe; header-only.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <utility>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/labels.h"

namespace kiln {

template <size_t N>
class CounterTable {
 public:
  // Child i has the labels `labels(i)`; `family` must outlive the table.
  CounterTable(prometheus::Family<prometheus::Counter>& family,
               std::function<prometheus::Labels(size_t)> labels)
      : family_(family), labels_(std::move(labels)) {}

  // Child `i` (< N). Two threads racing to create it get the same child (Family::Add returns
  // the existing one).
  prometheus::Counter& operator[](size_t i) {
    prometheus::Counter* c = children_[i].load(std::memory_order_acquire);
    if (c == nullptr) {
      c = &family_.Add(labels_(i));
      children_[i].store(c, std::memory_order_release);
    }
    return *c;
  }

 private:
  prometheus::Family<prometheus::Counter>& family_;
  std::function<prometheus::Labels(size_t)> labels_;
  std::array<std::atomic<prometheus::Counter*>, N> children_{};
};

}  // namespace kiln
