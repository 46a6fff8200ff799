#include "common/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace kiln {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& address) {
  if (exposer_ != nullptr) return absl::FailedPreconditionError("metrics are already served");
  try {
    // civetweb reports bind failures by throwing; keep exceptions out of our code.
    exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  return absl::OkStatus();
}

void Metrics::AddCollectable(const std::weak_ptr<prometheus::Collectable>& collectable) {
  if (exposer_ != nullptr) exposer_->RegisterCollectable(collectable);
}

}  // namespace kiln
