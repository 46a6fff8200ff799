// AES-256-GCM sealing of small secrets (the ledgers' gossiped keys) under a key-encryption key.
// Sealed form: 12-byte random IV || ciphertext || 16-byte tag. Thread-safe (no shared state).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Seals under the current KEK; opens under the current one or, during a rotation, any previous
// one (the GCM tag tells which key fits, so trying them in turn is safe).
class KeySealer {
 public:
  // Every key must be 32 bytes; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<KeySealer> Create(absl::string_view kek,
                                          std::vector<std::string> previous_keks = {});

  // Encrypts `plaintext` under the current KEK, binding `aad` (e.g. tenant and ledger) into the
  // tag. UNAVAILABLE when OpenSSL cannot draw the random IV (RAND_bytes fails: no entropy); the
  // caller answers its client with it instead of the process crashing.
  absl::StatusOr<std::string> Seal(absl::string_view plaintext, absl::string_view aad) const;

  // Decrypts; DATA_LOSS when the bytes were altered, the AAD differs or no KEK fits. When
  // `under_previous` is given it is set to whether a previous KEK (not the current) opened it.
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view aad,
                                   bool* under_previous = nullptr) const;

  bool has_previous() const { return !previous_.empty(); }

 private:
  static absl::StatusOr<std::string> OpenWith(const std::string& kek, absl::string_view sealed,
                                              absl::string_view aad);
  KeySealer(std::string kek, std::vector<std::string> previous)
      : kek_(std::move(kek)), previous_(std::move(previous)) {}
  std::string kek_;
  std::vector<std::string> previous_;
};

// Parses a key-encryption key given as 64 hex characters or base64 of 32 bytes (surrounding
// whitespace ignored). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseKek(absl::string_view text);

}  // namespace kiln
