#include "services/edge/auth.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::edge {
namespace {

class NoAuth : public Authenticator {
 public:
  absl::StatusOr<Principal> Authenticate(absl::string_view token) const override {
    if (token.empty()) return absl::UnauthenticatedError("a token is required (auth.params.jwk)");
    Principal p;
    p.unrestricted = true;
    return p;
  }
};

class Es256Auth : public Authenticator {
 public:
  Es256Auth(TokenVerifier verifier, const Clock& clock)
      : verifier_(std::move(verifier)), clock_(clock) {}

  absl::StatusOr<Principal> Authenticate(absl::string_view token) const override {
    if (token.empty()) return absl::UnauthenticatedError("a token is required (auth.params.jwk)");
    absl::StatusOr<TokenClaims> claims = verifier_.Verify(token, clock_.Now());
    if (!claims.ok()) return claims.status();
    Principal p;
    p.claims = *std::move(claims);
    if (p.claims.expires != absl::InfiniteFuture()) {
      p.valid_until = p.claims.expires + verifier_.clock_skew();
    }
    return p;
  }

 private:
  TokenVerifier verifier_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<Authenticator> NewNoAuth() { return std::make_unique<NoAuth>(); }

std::unique_ptr<Authenticator> NewEs256Auth(TokenVerifier verifier, const Clock& clock) {
  return std::make_unique<Es256Auth>(std::move(verifier), clock);
}

absl::Status CheckAccess(const Principal& principal, absl::string_view tenant,
                         absl::string_view ledger, bool write) {
  if (principal.unrestricted) return absl::OkStatus();
  if (!principal.claims.AllowsLedger(tenant, ledger)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token does not grant tenant \"", tenant, "\" ledger \"", ledger, "\""));
  }
  if (write && !principal.claims.CanWrite(ledger)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token grants only read access to ledger \"", ledger, "\""));
  }
  return absl::OkStatus();
}

}  // namespace kiln::edge
