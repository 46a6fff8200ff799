// The path prefix an edge is reached under (an ingress path such as /kiln, so that clients use
// fpcloud://host/kiln?...). The real client sends its gestalt to the prefix itself (it appends /fp
// only to an empty path) and resolves the advertised endpoints against it, so the edge advertises
// <prefix>/fp and <prefix>/ws and serves every route both under the prefix and at the root (for
// ingresses that strip it).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kiln::edge {

// OK for "" (no prefix) or a path like "/kiln" or "/a/b": starts with '/', does not end with one,
// and holds only URL path characters (no '?', '#', '%', "//", "." or ".." segments).
absl::Status ValidateBasePath(absl::string_view base_path);

// The route a request path names: `path` without the prefix `base_path`, with the bare prefix,
// "" and "/" meaning "/fp" (where the client sends its gestalt).
std::string RoutePath(absl::string_view path, absl::string_view base_path);

}  // namespace kiln::edge
