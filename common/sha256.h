// SHA-256 over byte strings, backed by OpenSSL's EVP interface (uses SHA-NI where available).
// Thread-safe: every call and every Sha256Hasher instance is independent.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kiln {

using Sha256Digest = std::array<uint8_t, 32>;

// Returns the SHA-256 of `data`.
Sha256Digest Sha256(absl::string_view data);

// Incremental SHA-256 for data that arrives in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(absl::string_view data);
  // Returns the digest of everything passed to Update; the hasher must not be used afterwards.
  Sha256Digest Finish();

 private:
  struct Ctx;
  Ctx* ctx_;
};

// The digest as a 32-byte string (for protobuf `bytes` fields and storage records).
inline std::string DigestBytes(const Sha256Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// Lower-case hex of `data` (for logs and test messages; never log secrets with it).
std::string HexEncode(absl::string_view data);

}  // namespace kiln
