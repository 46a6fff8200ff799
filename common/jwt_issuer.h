// Minting of the ES256 session tokens that unmodified Fireproof clients carry, signed with an
// issuer key Kiln holds, and the JSON Web Keys (RFC 7517) that publish the public halves.
//
// The claims have the shape FPCloudClaimSchema in @fireproof/core-types-protocols-cloud requires
// and TokenVerifier (jwt.h) reads: userId, email, created, tenants [{id, role}], ledgers
// [{id, role, right}], selected {tenant, ledger}, plus iss, aud, iat, nbf and exp. Unlike the
// Fireproof runtime's tokenFor (see the QUIRK in jwt.h), "exp" is in SECONDS, as RFC 7519 says.
// The protected header carries "kid", the RFC 7638 thumbprint of the public key, so a verifier
// holding several keys (current and previous) can tell which one signed.
//
// Threading: a TokenIssuer is immutable after Create; Issue may be called from any thread.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kiln {

// What one token grants.
struct TokenGrant {
  // A ledger and the right on it: "read" or "write".
  struct Ledger {
    std::string id;
    std::string right;
  };
  // "userId"; required.
  std::string user_id;
  // "email"; when empty, "<userId>@kiln.invalid" (the client's schema requires an email).
  std::string email;
  // Tenant ids; at least one.
  std::vector<std::string> tenants;
  // At least one.
  std::vector<Ledger> ledgers;
  // "selected"; empty means the first tenant and the first ledger.
  std::string selected_tenant;
  std::string selected_ledger;
  // How long the token is valid from `now`; positive.
  absl::Duration valid_for = absl::Hours(1);
};

// The public JWK of a P-256 key: {"kty":"EC","crv":"P-256","x":...,"y":...,"alg":"ES256",
// "use":"sig","kid":<RFC 7638 thumbprint>}. INVALID_ARGUMENT when `key` is not EC P-256.
absl::StatusOr<std::string> P256PublicJwk(EVP_PKEY* key);

// A fresh P-256 private key as a PEM "PRIVATE KEY" (PKCS#8) block; INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> GenerateP256PrivateKeyPem();

class TokenIssuer {
 public:
  // `private_key_pem`: a PEM EC P-256 private key ("EC PRIVATE KEY" as `openssl ecparam -genkey`
  // writes it, or PKCS#8 "PRIVATE KEY"). INVALID_ARGUMENT, saying what to fix, otherwise.
  static absl::StatusOr<TokenIssuer> Create(absl::string_view private_key_pem,
                                            std::string issuer = "kiln");

  TokenIssuer(TokenIssuer&&) noexcept;
  TokenIssuer& operator=(TokenIssuer&&) noexcept;
  ~TokenIssuer();

  // A signed token for `grant`, issued at `now`. INVALID_ARGUMENT naming the field for an empty
  // user id, no tenant or no ledger, a right other than read/write, a selected pair outside the
  // lists, or a non-positive validity; INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> Issue(const TokenGrant& grant, absl::Time now) const;

  // The public JWK (see P256PublicJwk) and its "kid".
  const std::string& public_jwk() const { return public_jwk_; }
  const std::string& kid() const { return kid_; }
  // The public key as a PEM "PUBLIC KEY" block (what kiln-edge --token_public_key accepts).
  const std::string& public_pem() const { return public_pem_; }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* key) const;
  };
  using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
  TokenIssuer(Key key, std::string issuer, std::string jwk, std::string kid, std::string pem);

  Key key_;
  std::string issuer_;
  std::string public_jwk_;
  std::string kid_;
  std::string public_pem_;
};

}  // namespace kiln
