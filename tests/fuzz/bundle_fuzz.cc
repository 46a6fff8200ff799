// Fuzz target: the ledger bundle reader (services/control/bundle.h), which reads files an
// operator hands to kiln-admin and kiln-control. Properties: never crashes; refuses only with
// DATA_LOSS or INVALID_ARGUMENT; whatever it accepts writes back to a bundle that reads equal.
#include <string>

#include "services/control/bundle.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kiln::KeySealer* const sealer =
      new kiln::KeySealer(*kiln::KeySealer::Create(std::string(32, 'k')));
  absl::string_view input = kiln::fuzz::AsText(data, size);
  absl::StatusOr<kiln::control::LedgerBundle> bundle = kiln::control::ReadBundle(input, sealer);
  if (!bundle.ok()) {
    FUZZ_CHECK(bundle.status().code() == absl::StatusCode::kDataLoss ||
               bundle.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  absl::StatusOr<kiln::control::LedgerBundle> again =
      kiln::control::ReadBundle(*kiln::control::WriteBundle(*bundle, *sealer), sealer);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->log_records == bundle->log_records && again->keys == bundle->keys &&
             again->blobs.size() == bundle->blobs.size() && again->tenant == bundle->tenant);
  return 0;
}
