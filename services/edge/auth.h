// Who a message comes from, and what they may touch. Two modes: `none` (development: any non-empty
// token is accepted for any tenant and ledger) and `es256` (the token is an ES256 JWT verified
// against a configured public key; its claims name the tenants and ledgers it may use, and a
// ledger whose right is "read" may not be written). Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/jwt.h"
#include "common/ledger_ref.h"

namespace kiln::edge {

struct Principal {
  bool unrestricted = false;  // auth=none
  TokenClaims claims;
  // When the token stops being accepted ("exp" plus the verifier's clock skew).
  absl::Time valid_until = absl::InfiniteFuture();
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // UNAUTHENTICATED for a missing, forged, malformed or expired token.
  virtual absl::StatusOr<Principal> Authenticate(absl::string_view token) const = 0;
};

// Accepts any non-empty token.
std::unique_ptr<Authenticator> NewNoAuth();

class JwksKeySource;

// Verifies ES256 JWTs with `verifier` at `clock`'s time.
std::unique_ptr<Authenticator> NewEs256Auth(TokenVerifier verifier, const Clock& clock);

// Verifies ES256 JWTs with `verifier` (Kiln's own issuer keys; may be empty) and, when that fails,
// with the external issuer's current key set from `jwks` (may be null; must outlive the result).
// A token is refused with the first verifier's reason, or the external one's when there is no
// first verifier.
std::unique_ptr<Authenticator> NewEs256Auth(std::optional<TokenVerifier> verifier,
                                            const JwksKeySource* jwks, const Clock& clock);

// PERMISSION_DENIED unless `principal` may use `ledger`; with `write`, also unless it may
// write there.
absl::Status CheckAccess(const Principal& principal, const LedgerRef& ledger, bool write);

}  // namespace kiln::edge
