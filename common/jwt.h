// Verification of the ES256 JSON Web Tokens that Fireproof cloud clients send as `auth.params.jwk`
// (section 5 of fireproof-cloud-protocol.md), and the Fireproof claims they carry.
//
// What is checked, like the reference server (`jose.jwtVerify` in core/runtime/sts-service):
//   - the token is `header.payload.signature`, each part base64url without padding;
//   - the header is a JSON object whose "alg" is "ES256" ("none", HS256, RS256... are rejected,
//     whatever the key), with no "crit" extensions;
//   - the signature is the JOSE form of ECDSA P-256 with SHA-256 over "header.payload": 64 bytes,
//     r then s, each big-endian and 32 bytes long;
//   - "exp" and "nbf", when present, are numbers and `now` is inside them, allowing
//     TokenVerifierOptions::clock_skew either way; "iat", when present, is a number.
// Like the reference server there is no "iss" or "aud" check. The payload must also be a Fireproof
// claim (FPCloudClaim in core/types/protocols/cloud/msg-types.zod.ts); see TokenClaims.
//
// QUIRK, timestamps in milliseconds: the Fireproof runtime's SessionTokenService.tokenFor sets
// `exp` to Date.now() + validFor, i.e. in MILLISECONDS since the epoch, while JWT (RFC 7519) and
// jose use seconds; "iat" is in seconds. So any "exp", "nbf" or "iat" value greater than
// kMillisecondTimestampThreshold (1e11) is read as milliseconds, anything else as seconds. 1e11
// seconds is the year 5138 and 1e11 milliseconds is March 1973, so no real timestamp is ambiguous.
// Consequence to know about: tokenFor's default validFor is 3600, which in milliseconds gives a
// token that expires 3.6 seconds after it was minted (plus clock_skew here), whereas the reference
// server reads the same value as seconds and treats the token as never expiring. Mint dev tokens
// with `validFor: 3600 * 1000` for a one-hour token.
//
// Error messages say what is wrong and what to do, and never contain the token, the key or any
// claim value other than times.
//
// Threading: a TokenVerifier is immutable after Create; Verify is const and may be called from
// any number of threads at once.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ledger_ref.h"

namespace kiln {

// Tokens longer than this are rejected without being parsed. Real Fireproof tokens are well under
// 2 KiB; the bound keeps a hostile client from making the server parse megabytes of JSON.
inline constexpr size_t kMaxTokenSize = 16 * 1024;
// Public key configuration strings longer than this are rejected.
inline constexpr size_t kMaxPublicKeySize = 16 * 1024;
// Fetched JSON Web Key Sets longer than this are rejected.
inline constexpr size_t kMaxJwksSize = 256 * 1024;
// Timestamps above this are milliseconds since the epoch (see QUIRK above), others seconds.
inline constexpr double kMillisecondTimestampThreshold = 1e11;

// The Fireproof claims of a verified token (FPCloudClaim). Fields the server does not use (email,
// nickname, provider, created, iss, aud) are not kept.
struct TokenClaims {
  // A ledger the user may use ("ledgers": [{id, role, right}]).
  struct Ledger {
    std::string id;
    std::string right;  // "read" or "write"; anything but exactly "write" is read-only (CanWrite).
    std::string role;   // "admin", "owner" or "member"; not checked; empty when absent.
  };

  // "userId"; never empty.
  std::string user_id;
  // The ids of "tenants": [{id, role}] (the tenant roles are not kept).
  std::vector<std::string> tenants;
  std::vector<Ledger> ledgers;
  // "selected": {tenant, ledger}, the client's current choice. Empty when the token has none.
  std::string selected_tenant;
  std::string selected_ledger;
  // "exp", or absl::InfiniteFuture() when the token has none.
  absl::Time expires = absl::InfiniteFuture();
  // "iat", or absl::InfinitePast() when the token has none.
  absl::Time issued_at = absl::InfinitePast();

  // Whether the token grants `ledger`. A token with lists grants, as the reference server checks
  // data and meta messages (msg-dispatcher-impl.ts ensureTendantLedger), its tenant in
  // tenants[].id and its ledger id in ledgers[].id; the two lists are independent: a token for
  // tenants {t1, t2} and ledgers {l1} allows (t2, l1), and its `selected` grants nothing more. A
  // token with empty lists and a `selected` pair (what Fireproof's dashboard mints,
  // ensureCloudToken) grants exactly that pair. False when either id is empty.
  bool AllowsLedger(const LedgerRef& ledger) const;

  // Whether the token grants writes to `ledger`. Fails closed: it lists `ledger` and every entry
  // for it has right exactly "write" (the only write right FPCloudClaim defines; "read", "READ",
  // "", "readonly" or anything unknown is read-only); or it does not list `ledger` at all and the
  // token is a selected-only one for `ledger` (a dashboard token: the user's own ledger, read and
  // write). False when `ledger` is empty or neither. Call it after AllowsLedger (which checks the
  // tenant). The reference server has no such check; this is Kiln's stricter reading.
  bool CanWrite(absl::string_view ledger) const;

  // True for a token with empty tenants and ledgers and a complete `selected` pair.
  bool SelectedOnly() const;
};

struct TokenVerifierOptions {
  // Tolerated difference between our clock and the issuer's when checking "exp" and "nbf".
  // Must not be negative.
  absl::Duration clock_skew = absl::Seconds(60);
  // Refuse tokens without "exp" (a token that never expires cannot be withdrawn). Off only by an
  // operator's explicit choice (kiln-edge --token_allow_no_exp).
  bool require_exp = true;
};

// Verifies ES256 tokens against one EC P-256 public key.
class TokenVerifier {
 public:
  // Builds a verifier from `public_key` (surrounding whitespace is ignored), one of:
  //   - "z" + base58btc of the JWK JSON: what the Fireproof runtime prints as
  //     `kp.strings.publicKey` (SessionTokenService.generateKeyPair) and reads from
  //     CLOUD_SESSION_TOKEN_PUBLIC;
  //   - the JWK JSON itself, {"kty":"EC","crv":"P-256","x":"<base64url>","y":"<base64url>"}, or a
  //     JWKS {"keys":[<that JWK>]} holding exactly one key;
  //   - standard base64 (padded or not) of that JSON, which the runtime also accepts;
  //   - a PEM "-----BEGIN PUBLIC KEY-----" block (SubjectPublicKeyInfo) of a P-256 key.
  // A JWK with "alg" must say "ES256". Returns INVALID_ARGUMENT, with a message saying what to
  // fix, when the string is none of these, is longer than kMaxPublicKeySize, is a private key (a
  // JWK with "d", or a PEM private key: configure the public half), is not an EC P-256 key, or is
  // not a valid point on the curve; also when options.clock_skew is negative.
  static absl::StatusOr<TokenVerifier> Create(absl::string_view public_key,
                                              TokenVerifierOptions options = {});

  // Builds a verifier from a JSON Web Key Set {"keys":[...]} as an issuer publishes it at its
  // jwks_uri: every EC P-256 key usable for ES256 signatures is trusted (keys of other types,
  // curves or algorithms, and "use" other than "sig", are skipped). INVALID_ARGUMENT when the text
  // is not a JWKS, holds a private key, or holds no usable key.
  static absl::StatusOr<TokenVerifier> CreateFromJwks(absl::string_view jwks,
                                                      TokenVerifierOptions options = {});

  TokenVerifier(TokenVerifier&&) noexcept;
  TokenVerifier& operator=(TokenVerifier&&) noexcept;
  ~TokenVerifier();

  // Key rotation: tokens signed with `public_key` (any form Create accepts) also verify, after
  // the current key. INVALID_ARGUMENT as Create.
  absl::Status AddPreviousKey(absl::string_view public_key);

  // Verifies `jwt` at time `now` (take it from the injected kiln::Clock) and returns its claims.
  // Returns UNAUTHENTICATED, with a message a person can act on, when:
  //   - the token is empty, longer than kMaxTokenSize, or not three dot-separated base64url parts;
  //   - the header is not a JSON object, its "alg" is not "ES256", or it has "crit";
  //   - the signature is not 64 bytes or does not verify with this verifier's key;
  //   - the payload is not a JSON object; "exp", "nbf" or "iat" is present but not a number;
  //   - "exp" is absent and TokenVerifierOptions::require_exp is set (the default);
  //   - `now` is at or after "exp" + clock_skew ("token expired at ...") or before
  //     "nbf" - clock_skew ("token is not valid before ...");
  //   - "userId" is missing, not a string or empty; "tenants" or "ledgers" is missing or not an
  //     array; a tenant is not an object with a string "id"; a ledger is not an object with
  //     string "id" and "right" (and "role", when present); or "selected" is present but is not
  //     an object whose "tenant" and "ledger", when present, are strings.
  // Returns INTERNAL only if OpenSSL fails to allocate.
  absl::StatusOr<TokenClaims> Verify(absl::string_view jwt, absl::Time now) const;

  // The JSON Web Key Set {"keys":[current, previous...]} of this verifier's public keys, as
  // /.well-known/jwks.json serves it (each key as P256PublicJwk in jwt_issuer.h). INTERNAL only if
  // OpenSSL fails.
  absl::StatusOr<std::string> Jwks() const;

  // How long past "exp" (and before "nbf") tokens are still accepted.
  absl::Duration clock_skew() const { return options_.clock_skew; }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* key) const;
  };
  using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

  TokenVerifier(Key key, TokenVerifierOptions options);

  Key key_;
  std::vector<Key> previous_keys_;
  TokenVerifierOptions options_;
};

}  // namespace kiln
