#include "services/edge/auth.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/edge/jwks.h"

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
  Es256Auth(std::optional<TokenVerifier> verifier, const JwksKeySource* jwks, const Clock& clock)
      : verifier_(std::move(verifier)), jwks_(jwks), clock_(clock) {}

  absl::StatusOr<Principal> Authenticate(absl::string_view token) const override {
    if (token.empty()) return absl::UnauthenticatedError("a token is required (auth.params.jwk)");
    absl::Time now = clock_.Now();
    absl::Status first = absl::UnauthenticatedError(
        "no token issuer key set is available (the --token_jwks_url set could not be fetched)");
    if (verifier_.has_value()) {
      absl::StatusOr<TokenClaims> claims = verifier_->Verify(token, now);
      if (claims.ok()) return Make(*std::move(claims), *verifier_);
      first = claims.status();
    }
    if (jwks_ != nullptr) {
      if (std::shared_ptr<const TokenVerifier> external = jwks_->Current()) {
        absl::StatusOr<TokenClaims> claims = external->Verify(token, now);
        if (claims.ok()) return Make(*std::move(claims), *external);
        if (!verifier_.has_value()) first = claims.status();
      }
    }
    return first;
  }

 private:
  static Principal Make(TokenClaims claims, const TokenVerifier& verifier) {
    Principal p;
    p.claims = std::move(claims);
    if (p.claims.expires != absl::InfiniteFuture()) {
      p.valid_until = p.claims.expires + verifier.clock_skew();
    }
    return p;
  }

  std::optional<TokenVerifier> verifier_;
  const JwksKeySource* jwks_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<Authenticator> NewNoAuth() { return std::make_unique<NoAuth>(); }

std::unique_ptr<Authenticator> NewEs256Auth(TokenVerifier verifier, const Clock& clock) {
  return std::make_unique<Es256Auth>(std::move(verifier), nullptr, clock);
}

std::unique_ptr<Authenticator> NewEs256Auth(std::optional<TokenVerifier> verifier,
                                            const JwksKeySource* jwks, const Clock& clock) {
  return std::make_unique<Es256Auth>(std::move(verifier), jwks, clock);
}

absl::Status CheckAccess(const Principal& principal, const LedgerRef& ledger, bool write) {
  if (principal.unrestricted) return absl::OkStatus();
  if (!principal.claims.AllowsLedger(ledger)) {
    return absl::PermissionDeniedError(absl::StrCat("the token does not grant tenant \"",
                                                    ledger.tenant(), "\" ledger \"",
                                                    ledger.ledger(), "\""));
  }
  if (write && !principal.claims.CanWrite(ledger.ledger())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token grants only read access to ledger \"", ledger.ledger(), "\""));
  }
  return absl::OkStatus();
}

}  // namespace kiln::edge
