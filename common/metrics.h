// The process's Prometheus registry and its /metrics endpoint. Create one Metrics object in `main`
// and pass it by reference to every component that records metrics. Thread-safe (prometheus-cpp
// metric objects are).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "prometheus/collectable.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace kiln {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }

  // Serves GET /metrics on `address` ("127.0.0.1:9101"; port 0 picks a free one). Returns
  // UNAVAILABLE when the address cannot be bound, FAILED_PRECONDITION when already serving.
  absl::Status Serve(const std::string& address);

  // The bound port once Serve succeeded, else 0.
  int port() const { return port_; }

  // Adds a collector that computes its families at scrape time (e.g. storage engine statistics).
  // It is scraped for as long as the caller keeps it alive. Call after Serve.
  void AddCollectable(const std::weak_ptr<prometheus::Collectable>& collectable);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string wake_host_;  // where the destructor connects to wake the listener
};

}  // namespace kiln
