// AES-256-GCM sealing of small secrets (the ledgers' gossiped keys) under a key-encryption key.
// Sealed form: 12-byte random IV || ciphertext || 16-byte tag. Thread-safe (no shared state).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

class KeySealer {
 public:
  // `kek` must be 32 bytes; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<KeySealer> Create(absl::string_view kek);

  // Encrypts `plaintext`, binding `aad` (e.g. tenant and ledger) into the tag.
  std::string Seal(absl::string_view plaintext, absl::string_view aad) const;

  // Decrypts; DATA_LOSS when the bytes were altered, the AAD differs or the KEK is wrong.
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view aad) const;

 private:
  explicit KeySealer(std::string kek) : kek_(std::move(kek)) {}
  std::string kek_;
};

// Parses a key-encryption key given as 64 hex characters or base64 of 32 bytes (surrounding
// whitespace ignored). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseKek(absl::string_view text);

}  // namespace kiln
