#include "services/edge/base_path.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kiln::edge {

absl::Status ValidateBasePath(absl::string_view base_path) {
  if (base_path.empty()) return absl::OkStatus();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("base path \"", base_path, "\" ", why, " (example: /kiln)"));
  };
  if (base_path.front() != '/') return bad("must start with /");
  if (base_path.back() == '/') return bad("must not end with /");
  std::vector<absl::string_view> segments = absl::StrSplit(base_path.substr(1), '/');
  for (absl::string_view seg : segments) {
    if (seg.empty() || seg == "." || seg == "..") return bad("has an empty, . or .. segment");
    for (char c : seg) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
          c != '~') {
        return bad("may hold only letters, digits and - _ . ~ between slashes");
      }
    }
  }
  return absl::OkStatus();
}

std::string RoutePath(absl::string_view path, absl::string_view base_path) {
  if (!base_path.empty() && absl::StartsWith(path, base_path) &&
      (path.size() == base_path.size() || path[base_path.size()] == '/')) {
    path.remove_prefix(base_path.size());
  }
  if (path.empty() || path == "/") return "/fp";
  return std::string(path);
}

}  // namespace kiln::edge
