// Fuzz target: the edge's base path (services/edge/base_path.h). The input is
// "<base path>\n<request path>": ValidateBasePath checks the first (a flag value); when it is
// valid, RoutePath maps the second under it, as the edge does for every request.
// Properties: no crash; validation fails only with INVALID_ARGUMENT; a valid base path starts with
// '/' (or is empty) and has no "." or ".." segment; RoutePath never returns an empty route, and the
// bare prefix, "" and "/" route to "/fp".
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/edge/base_path.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input = kiln::fuzz::AsText(data, size);
  const size_t newline = input.find('\n');
  const absl::string_view base = input.substr(0, newline);
  const absl::string_view path =
      newline == absl::string_view::npos ? absl::string_view() : input.substr(newline + 1);
  const absl::Status valid = kiln::edge::ValidateBasePath(base);
  if (!valid.ok()) {
    FUZZ_CHECK(valid.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(base.empty() || base[0] == '/');
  FUZZ_CHECK(!absl::StrContains(absl::StrCat(base, "/"), "/./"));
  FUZZ_CHECK(!absl::StrContains(absl::StrCat(base, "/"), "/../"));
  const std::string route = kiln::edge::RoutePath(path, base);
  FUZZ_CHECK(!route.empty());
  if (path.empty() || path == "/" || path == base) FUZZ_CHECK(route == "/fp");
  return 0;
}
