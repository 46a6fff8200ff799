// Fuzz target: backend URL parsing (common/backend_url.h), which reads --backend flags and every
// storage URL a deployment configures. Each parsed parameter is also read through Param,
// BoolParam and UintParam, and CheckParams runs against a typical known list.
// Properties: no crash; every failure is INVALID_ARGUMENT; a parsed URL has a lower-case scheme.
#include <string>

#include "absl/strings/ascii.h"
#include "common/backend_url.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input = kiln::fuzz::AsText(data, size);
  absl::StatusOr<kiln::BackendUrl> url = kiln::ParseBackendUrl(input);
  if (!url.ok()) {
    FUZZ_CHECK(url.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(!url->scheme.empty() && url->scheme == absl::AsciiStrToLower(url->scheme));
  for (const auto& [name, value] : url->params) {
    FUZZ_CHECK(url->Param(name, "") == value);
    absl::StatusOr<bool> b = url->BoolParam(name, false);
    if (!b.ok()) FUZZ_CHECK(b.status().code() == absl::StatusCode::kInvalidArgument);
    absl::StatusOr<uint64_t> n = url->UintParam(name, 0);
    if (!n.ok()) FUZZ_CHECK(n.status().code() == absl::StatusCode::kInvalidArgument);
  }
  const absl::Status known = url->CheckParams({"sync", "cache_mb", "region", "endpoint"});
  FUZZ_CHECK(known.ok() || known.code() == absl::StatusCode::kInvalidArgument);
  return 0;
}
