// Reading the files that flags name (keys, tokens, passwords) with a status instead of dying, so
// that loading code can be tested and main decides what is fatal.
//
// Threading: a plain function, safe from any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Reads the whole file a flag names (a key, token or password file). `what` names it for the
// message, e.g. "signing key file" gives "cannot read signing key file PATH". Returns NOT_FOUND
// when the file does not exist, PERMISSION_DENIED when it may not be read, UNAVAILABLE for any
// other read failure.
absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view what);

}  // namespace kiln
