// Signed blob URLs: `<public base>/blob/<tenant>/<ledger>/<store>/<key>?exp=<unix s>&sig=<hex>`,
// where sig = HMAC-SHA256(key, "<METHOD>\n<tenant>\n<ledger>\n<store>\n<key>\n<exp>"). A URL signed
// for GET also allows HEAD. Thread-safe (immutable after construction).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ledger_ref.h"
#include "common/store_kind.h"

namespace kiln::edge {

struct BlobAddress {
  LedgerRef ledger;
  StoreKind store = StoreKind::kCar;  // named by StoreKindName in URLs and MACs
  std::string key;
};

class UrlSigner {
 public:
  // `secret` is the HMAC key (at least 32 bytes); `public_base` the absolute URL clients reach this
  // edge at, e.g. "http://127.0.0.1:8787" or "https://kiln.example.com/sync" (no trailing slash).
  // `previous_secrets` (key rotation): URLs signed with them still verify until they expire; new
  // URLs are signed with `secret` only.
  UrlSigner(std::string secret, std::string public_base,
            std::vector<std::string> previous_secrets = {});

  // Replaces the public base; call only before serving (e.g. once a port chosen at bind time is
  // known), never while requests are handled.
  void SetPublicBase(std::string public_base);

  // The absolute signed URL for `method` ("PUT", "GET", "DELETE") on `blob`, valid until `expires`.
  std::string Sign(absl::string_view method, const BlobAddress& blob, absl::Time expires) const;

  // Checks a request for `target` (the HTTP request target: path and query). Returns the blob
  // address when the signature is valid for `method` and not expired at `now`;
  // PERMISSION_DENIED for a bad, tampered or expired signature, INVALID_ARGUMENT for a target
  // that is not a blob URL.
  absl::StatusOr<BlobAddress> Verify(absl::string_view method, absl::string_view target,
                                     absl::Time now) const;

 private:
  static std::string Mac(const std::string& secret, absl::string_view method,
                         const BlobAddress& blob, int64_t exp);
  std::string secret_;
  std::vector<std::string> previous_secrets_;
  std::string public_base_;
};

// The secrets a UrlSigner is built with, as the operator configured them.
struct UrlSigningKeys {
  std::string current;
  std::vector<std::string> previous;
  // True when `current` was drawn at random (no key file): only this process can verify it.
  bool random = false;
};

// Reads the signing secret from `key_file` (surrounding whitespace stripped), or draws 32 random
// bytes when `key_file` is empty, and the previous secrets from `previous_files`. Returns
// INVALID_ARGUMENT for a secret shorter than 32 bytes, NOT_FOUND / PERMISSION_DENIED /
// UNAVAILABLE (as ReadFlagFile) for a file that cannot be read, INTERNAL when the random
// generator fails.
absl::StatusOr<UrlSigningKeys> LoadUrlSigningKeys(const std::string& key_file,
                                                  const std::vector<std::string>& previous_files);

}  // namespace kiln::edge
