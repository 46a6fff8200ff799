// Fuzz target: DecodeDagCbor (common/dag_cbor.h) on arbitrary bytes. Properties: it never crashes,
// fails only with INVALID_ARGUMENT, and an accepted input is the one canonical encoding of its
// value (EncodeDagCbor gives back the exact bytes).
#include "common/dag_cbor.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input = kiln::fuzz::AsText(data, size);
  absl::StatusOr<kiln::cbor::Value> decoded = kiln::cbor::DecodeDagCbor(input);
  if (decoded.ok()) {
    FUZZ_CHECK(kiln::cbor::EncodeDagCbor(*decoded) == input);
  } else {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
