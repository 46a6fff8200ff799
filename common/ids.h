// Validation of tenant and ledger ids, shared by every service so they agree on what is valid.
//
// The grammar (docs/protocol-rules.md, "Tenant and ledger ids"): 1 to 256 bytes of ASCII letters,
// digits and the punctuation `-` `_` `.` `~` `:` `@` `+` `=`, and not "." or "..". It covers what
// Fireproof clients send: the dashboard's generated ids (base58), the names apps pass to
// toCloud({tenant, ledger}) and the dev token's "test". It keeps ids safe wherever they end up: in
// URL paths (no `/`, no dot segments), object-store keys, file names, log lines (no control
// characters) and length-prefixed storage keys (no NUL).
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kiln {

inline constexpr size_t kMaxIdBytes = 256;

// Whether `c` may appear in a tenant or ledger id.
inline bool IsIdChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case ':':
    case '@':
    case '+':
    case '=':
      return true;
    default:
      return false;
  }
}

// OK for an id in the grammar above; INVALID_ARGUMENT naming `field` otherwise. The message never
// repeats the value (it may be huge or hold control characters), only its length and the offending
// byte's position.
inline absl::Status ValidateId(absl::string_view value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " must not be empty"));
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes; at most ", kMaxIdBytes, " allowed"));
  }
  if (value == "." || value == "..") {
    return absl::InvalidArgumentError(absl::StrCat(field, " must not be \".\" or \"..\""));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsIdChar(value[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " has a character that ids may not contain at byte ", i,
                       " (allowed: letters, digits and - _ . ~ : @ + =)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln
