// Validation of tenant and ledger ids, shared by every service so they agree on what is valid.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kiln {

inline constexpr size_t kMaxIdBytes = 256;

// OK for a non-empty id of at most kMaxIdBytes bytes; INVALID_ARGUMENT naming `field` otherwise.
inline absl::Status ValidateId(absl::string_view value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " must not be empty"));
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes; at most ", kMaxIdBytes, " allowed"));
  }
  return absl::OkStatus();
}

}  // namespace kiln
