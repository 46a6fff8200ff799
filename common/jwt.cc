#include "common/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/jwt_issuer.h"
#include "common/multibase.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"

namespace kiln {
namespace {

// P-256 coordinates, and r and s of an ES256 signature, are 32 bytes each.
constexpr size_t kP256FieldBytes = 32;
constexpr size_t kEs256SignatureBytes = 2 * kP256FieldBytes;
// Header "alg" values are echoed in messages up to this many characters.
constexpr size_t kMaxEchoedAlg = 16;

constexpr absl::string_view kKeyForms =
    "expected the \"z...\" string that SessionTokenService.generateKeyPair prints as "
    "strings.publicKey, a JWK JSON object {\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":...,\"y\":...}, "
    "or a PEM \"-----BEGIN PUBLIC KEY-----\" block";

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// OpenSSL keeps failure reasons in a thread-local queue; we report our own messages, so drop
// them rather than leave them for unrelated code on this thread to find.
absl::Status OpenSslInternal(absl::string_view what) {
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("OpenSSL failed to ", what));
}

// Strict base64url without padding (RFC 7515 section 2): '-' and '_' instead of '+' and '/', no
// '=', zero unused bits. Returns INVALID_ARGUMENT naming the problem and its position.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  std::string standard(text);
  for (size_t i = 0; i < standard.size(); ++i) {
    char& c = standard[i];
    if (c == '+' || c == '/' || c == '=') {
      return absl::InvalidArgumentError(absl::StrCat(
          "character ", i, " is not in the base64url alphabet (which has '-' and '_' instead of ",
          "'+' and '/', and no '=' padding)"));
    }
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    }
  }
  return Base64Decode(standard, Base64Padding::kNone);
}

// Parses `text` as a JSON object. Returns nullopt when it is not valid UTF-8 JSON or not an
// object. The error_code overload of boost::json::parse does not throw (except bad_alloc), and
// limits nesting depth.
std::optional<boost::json::object> ParseJsonObject(absl::string_view text) {
  boost::json::error_code ec;
  boost::json::value json =
      boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec || !json.is_object()) return std::nullopt;
  return std::move(json.get_object());
}

// The string member `key` of `object`, or nullptr when absent or not a string.
const boost::json::string* StringMember(const boost::json::object& object, absl::string_view key) {
  const boost::json::value* value =
      object.if_contains(boost::json::string_view(key.data(), key.size()));
  return value == nullptr ? nullptr : value->if_string();
}

std::string ToStd(const boost::json::string& s) { return std::string(s.data(), s.size()); }

std::string UtcText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

// ---- Public keys ----

// Checks that `key` is a valid EC P-256 public key.
absl::Status CheckP256PublicKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key is not an EC key; ES256 needs an EC P-256 (prime256v1) key");
  }
  char group[80] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1 ||
      OBJ_txt2nid(group) != NID_X9_62_prime256v1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key is not on the P-256 (prime256v1) curve, which ES256 needs");
  }
  // OpenSSL's decoders already refuse points off the curve; this check is defence in depth.
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (ctx == nullptr) return OpenSslInternal("create a key context");
  if (EVP_PKEY_public_check(ctx.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("public key is not a valid point on the P-256 curve");
  }
  return absl::OkStatus();
}

// Builds a P-256 public key from its affine coordinates (32 bytes each, big-endian).
absl::StatusOr<EvpPkeyPtr> KeyFromP256Point(absl::string_view x, absl::string_view y) {
  std::string point = absl::StrCat("\x04", x, y);  // Uncompressed SEC1 point.
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (ctx == nullptr) return OpenSslInternal("create an EC key context");
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1) return OpenSslInternal("start building an EC key");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key JWK \"x\" and \"y\" are not a point on the P-256 curve");
  }
  EvpPkeyPtr key(raw);
  KILN_RETURN_IF_ERROR(CheckP256PublicKey(key.get()));
  return key;
}

// Decodes a base64url JWK coordinate that must be 32 bytes.
absl::StatusOr<std::string> JwkCoordinate(const boost::json::object& jwk, absl::string_view name) {
  const boost::json::string* text = StringMember(jwk, name);
  if (text == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key JWK has no \"", name, "\" string (base64url coordinate)"));
  }
  absl::StatusOr<std::string> bytes =
      Base64UrlDecode(absl::string_view(text->data(), text->size()));
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key JWK \"", name, "\" is not base64url: ", bytes.status().message()));
  }
  if (bytes->size() != kP256FieldBytes) {
    return absl::InvalidArgumentError(absl::StrCat("public key JWK \"", name, "\" is ",
                                                   bytes->size(), " bytes; a P-256 coordinate is ",
                                                   kP256FieldBytes));
  }
  return *std::move(bytes);
}

// Builds the key from JWK (or single-key JWKS) JSON text. `form` names how the text was given.
absl::StatusOr<EvpPkeyPtr> KeyFromJwkJson(absl::string_view json, absl::string_view form) {
  std::optional<boost::json::object> parsed = ParseJsonObject(json);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key (", form, ") is not a JSON object; ", kKeyForms));
  }
  const boost::json::object* jwk = &*parsed;
  if (const boost::json::value* keys = jwk->if_contains("keys")) {
    const boost::json::array* array = keys->if_array();
    if (array == nullptr || array->size() != 1 || !(*array)[0].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "public key (", form,
          ") is a JWKS whose \"keys\" is not an array of exactly one JWK object; configure the "
          "one key that signs the tokens"));
    }
    jwk = &(*array)[0].get_object();
  }
  if (jwk->contains("d")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "public key (", form,
        ") is a PRIVATE key (the JWK has \"d\"); configure the public key "
        "(generateKeyPair's strings.publicKey) and keep the private key with the token issuer"));
  }
  const boost::json::string* kty = StringMember(*jwk, "kty");
  if (kty == nullptr || *kty != "EC") {
    return absl::InvalidArgumentError(absl::StrCat(
        "public key JWK \"kty\" is not \"EC\"; ES256 needs an EC P-256 key (", kKeyForms, ")"));
  }
  const boost::json::string* crv = StringMember(*jwk, "crv");
  if (crv == nullptr || *crv != "P-256") {
    return absl::InvalidArgumentError(
        "public key JWK \"crv\" is not \"P-256\"; ES256 needs a P-256 key");
  }
  if (const boost::json::value* alg = jwk->if_contains("alg")) {
    if (!alg->is_string() || alg->get_string() != "ES256") {
      return absl::InvalidArgumentError(
          "public key JWK \"alg\" is not \"ES256\"; Fireproof tokens are ES256");
    }
  }
  KILN_ASSIGN_OR_RETURN(std::string x, JwkCoordinate(*jwk, "x"));
  KILN_ASSIGN_OR_RETURN(std::string y, JwkCoordinate(*jwk, "y"));
  return KeyFromP256Point(x, y);
}

// Never asks for a passphrase (the default callback would prompt on the terminal).
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; }

// Builds the key from one PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block.
absl::StatusOr<EvpPkeyPtr> KeyFromPem(absl::string_view pem) {
  constexpr absl::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr absl::string_view kEnd = "-----END PUBLIC KEY-----";
  if (absl::StrContains(pem, "PRIVATE KEY")) {
    return absl::InvalidArgumentError(
        "public key is a PEM PRIVATE key; configure the public key (\"-----BEGIN PUBLIC "
        "KEY-----\") and keep the private key with the token issuer");
  }
  if (!absl::StartsWith(pem, kBegin) || !absl::EndsWith(pem, kEnd) ||
      pem.find("-----BEGIN", 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("public key PEM must be exactly one \"", kBegin,
                                                   "\" ... \"", kEnd, "\" block"));
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return OpenSslInternal("create a memory BIO");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key PEM block does not hold a valid SubjectPublicKeyInfo (bad base64 or DER)");
  }
  KILN_RETURN_IF_ERROR(CheckP256PublicKey(key.get()));
  return key;
}

absl::StatusOr<EvpPkeyPtr> ParsePublicKey(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("public key is empty; ", kKeyForms));
  }
  if (text.size() > kMaxPublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("public key is ", text.size(),
                                                   " characters; at most ", kMaxPublicKeySize,
                                                   " are accepted (", kKeyForms, ")"));
  }
  if (absl::StartsWith(text, "-----BEGIN")) return KeyFromPem(text);
  if (text.front() == '{') return KeyFromJwkJson(text, "JWK JSON");
  if (text.front() == 'z') {
    absl::StatusOr<std::string> json = Base58BtcDecode(text.substr(1));
    if (!json.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("public key starts with 'z' but the rest is not base58btc (",
                       json.status().message(), "); ", kKeyForms));
    }
    return KeyFromJwkJson(*json, "\"z\" + base58btc");
  }
  // coerceJWK in the Fireproof runtime also takes standard base64 of the JSON.
  const Base64Padding padding =
      absl::EndsWith(text, "=") ? Base64Padding::kRequired : Base64Padding::kNone;
  absl::StatusOr<std::string> json = Base64Decode(text, padding);
  if (!json.ok() || json->empty() || json->front() != '{') {
    return absl::InvalidArgumentError(
        absl::StrCat("public key is not in a recognized form; ", kKeyForms));
  }
  return KeyFromJwkJson(*json, "base64");
}

// ---- Tokens ----

absl::Status TokenError(absl::string_view message) { return absl::UnauthenticatedError(message); }

absl::Status CheckHeader(absl::string_view header_b64) {
  absl::StatusOr<std::string> header_json = Base64UrlDecode(header_b64);
  if (!header_json.ok()) {
    return TokenError(
        absl::StrCat("token header is not base64url: ", header_json.status().message()));
  }
  std::optional<boost::json::object> header = ParseJsonObject(*header_json);
  if (!header.has_value()) return TokenError("token header is not a JSON object");
  const boost::json::string* alg = StringMember(*header, "alg");
  if (alg == nullptr) return TokenError("token header has no \"alg\" string");
  if (*alg == "none") {
    return TokenError("token is unsigned (alg \"none\"); only ES256-signed tokens are accepted");
  }
  if (*alg != "ES256") {
    const absl::string_view name(alg->data(), std::min(alg->size(), kMaxEchoedAlg));
    return TokenError(absl::StrCat("token algorithm \"", absl::CHexEscape(name),
                                   "\" is not accepted; only ES256-signed tokens are"));
  }
  if (header->contains("crit")) {
    return TokenError("token header has \"crit\" extensions, which are not supported");
  }
  return absl::OkStatus();
}

// Verifies the JOSE ES256 signature (r || s) over `signing_input` with `key`.
absl::Status VerifyEs256(EVP_PKEY* key, absl::string_view signing_input,
                         absl::string_view signature) {
  BignumPtr r(BN_bin2bn(U(signature), kP256FieldBytes, nullptr));
  BignumPtr s(BN_bin2bn(U(signature) + kP256FieldBytes, kP256FieldBytes, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr) {
    return OpenSslInternal("allocate a signature");
  }
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return OpenSslInternal("set a signature");
  r.release();  // Now owned by sig.
  s.release();
  const int der_size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (der_size <= 0) return OpenSslInternal("DER-encode a signature");
  std::string der(static_cast<size_t>(der_size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != der_size) return OpenSslInternal("DER-encode a signature");

  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslInternal("allocate a digest context");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return OpenSslInternal("start an ECDSA verification");
  }
  const int verified =
      EVP_DigestVerify(ctx.get(), U(der), der.size(), U(signing_input), signing_input.size());
  ERR_clear_error();
  if (verified != 1) {
    return TokenError(
        "token signature does not verify with the configured public key: the token was altered "
        "or was signed by another key; get a token from the issuer this server trusts");
  }
  return absl::OkStatus();
}

// Reads the NumericDate claim `name`: nullopt when absent; UNAUTHENTICATED when not a number.
// Values above kMillisecondTimestampThreshold are milliseconds (see jwt.h).
absl::StatusOr<std::optional<absl::Time>> TimeClaim(const boost::json::object& payload,
                                                    absl::string_view name) {
  const boost::json::value* value =
      payload.if_contains(boost::json::string_view(name.data(), name.size()));
  if (value == nullptr) return std::nullopt;
  if (const int64_t* i = value->if_int64()) {
    if (static_cast<double>(*i) > kMillisecondTimestampThreshold) return absl::FromUnixMillis(*i);
    return absl::FromUnixSeconds(*i);
  }
  // Boost.JSON uses uint64 only above INT64_MAX: milliseconds beyond any representable time.
  if (value->is_uint64()) return absl::InfiniteFuture();
  if (const double* d = value->if_double()) {
    if (std::isfinite(*d)) {
      const double seconds = *d > kMillisecondTimestampThreshold ? *d / 1000 : *d;
      return absl::UnixEpoch() + absl::Seconds(seconds);  // Saturates to infinity.
    }
  }
  return TokenError(
      absl::StrCat("token \"", name, "\" claim is not a number (seconds since the epoch)"));
}

absl::StatusOr<TokenClaims> ParseClaims(const boost::json::object& payload) {
  TokenClaims claims;
  const boost::json::string* user_id = StringMember(payload, "userId");
  if (user_id == nullptr || user_id->empty()) {
    return TokenError(
        "token has no \"userId\" claim (a non-empty string); it is not a Fireproof cloud token "
        "(FPCloudClaim)");
  }
  claims.user_id = ToStd(*user_id);

  const boost::json::value* tenants = payload.if_contains("tenants");
  if (tenants == nullptr || !tenants->is_array()) {
    return TokenError("token has no \"tenants\" array; it is not a Fireproof cloud token");
  }
  claims.tenants.reserve(tenants->get_array().size());
  for (const boost::json::value& tenant : tenants->get_array()) {
    const boost::json::string* id =
        tenant.is_object() ? StringMember(tenant.get_object(), "id") : nullptr;
    if (id == nullptr) {
      return TokenError(
          "token \"tenants\" has an entry that is not an object with an \"id\" string");
    }
    claims.tenants.push_back(ToStd(*id));
  }

  const boost::json::value* ledgers = payload.if_contains("ledgers");
  if (ledgers == nullptr || !ledgers->is_array()) {
    return TokenError("token has no \"ledgers\" array; it is not a Fireproof cloud token");
  }
  claims.ledgers.reserve(ledgers->get_array().size());
  for (const boost::json::value& entry : ledgers->get_array()) {
    const boost::json::object* ledger = entry.if_object();
    const boost::json::string* id = ledger == nullptr ? nullptr : StringMember(*ledger, "id");
    const boost::json::string* right = ledger == nullptr ? nullptr : StringMember(*ledger, "right");
    if (id == nullptr || right == nullptr) {
      return TokenError(
          "token \"ledgers\" has an entry that is not an object with \"id\" and \"right\" strings");
    }
    TokenClaims::Ledger out{ToStd(*id), ToStd(*right), ""};
    if (const boost::json::value* role = ledger->if_contains("role")) {
      if (!role->is_string()) {
        return TokenError("token \"ledgers\" has a \"role\" that is not a string");
      }
      out.role = ToStd(role->get_string());
    }
    claims.ledgers.push_back(std::move(out));
  }

  if (const boost::json::value* selected = payload.if_contains("selected")) {
    const boost::json::object* object = selected->if_object();
    if (object == nullptr) return TokenError("token \"selected\" claim is not an object");
    for (auto [name, field] :
         {std::pair<const char*, std::string*>{"tenant", &claims.selected_tenant},
          {"ledger", &claims.selected_ledger}}) {
      if (const boost::json::value* value = object->if_contains(name)) {
        if (!value->is_string()) {
          return TokenError(absl::StrCat("token \"selected\".", name, " is not a string"));
        }
        *field = ToStd(value->get_string());
      }
    }
  }
  return claims;
}

}  // namespace

bool TokenClaims::SelectedOnly() const {
  return tenants.empty() && ledgers.empty() && !selected_tenant.empty() && !selected_ledger.empty();
}

bool TokenClaims::AllowsLedger(const LedgerRef& ref) const {
  const std::string& tenant = ref.tenant();
  const std::string& ledger = ref.ledger();
  if (tenant.empty() || ledger.empty()) return false;
  if (SelectedOnly()) return tenant == selected_tenant && ledger == selected_ledger;
  bool tenant_found = false;
  for (const std::string& id : tenants) tenant_found = tenant_found || id == tenant;
  if (!tenant_found) return false;
  for (const Ledger& l : ledgers) {
    if (l.id == ledger) return true;
  }
  return false;
}

bool TokenClaims::CanWrite(absl::string_view ledger) const {
  if (ledger.empty()) return false;
  bool listed = false;
  for (const Ledger& l : ledgers) {
    if (l.id != ledger) continue;
    if (l.right != "write") return false;
    listed = true;
  }
  return listed || (SelectedOnly() && ledger == selected_ledger);
}

void TokenVerifier::KeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

TokenVerifier::TokenVerifier(Key key, TokenVerifierOptions options)
    : key_(std::move(key)), options_(options) {}
TokenVerifier::TokenVerifier(TokenVerifier&&) noexcept = default;
TokenVerifier& TokenVerifier::operator=(TokenVerifier&&) noexcept = default;
TokenVerifier::~TokenVerifier() = default;

absl::StatusOr<TokenVerifier> TokenVerifier::Create(absl::string_view public_key,
                                                    TokenVerifierOptions options) {
  if (options.clock_skew < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token clock skew must not be negative");
  }
  KILN_ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePublicKey(absl::StripAsciiWhitespace(public_key)));
  return TokenVerifier(Key(key.release()), options);
}

absl::StatusOr<TokenVerifier> TokenVerifier::CreateFromJwks(absl::string_view jwks,
                                                            TokenVerifierOptions options) {
  if (options.clock_skew < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token clock skew must not be negative");
  }
  if (jwks.size() > kMaxJwksSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key set is over ", kMaxJwksSize, " bytes; refusing to parse it"));
  }
  std::optional<boost::json::object> parsed = ParseJsonObject(jwks);
  const boost::json::value* keys = parsed.has_value() ? parsed->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return absl::InvalidArgumentError("the key set is not a JWKS object {\"keys\":[...]}");
  }
  std::vector<Key> usable;
  for (const boost::json::value& k : keys->get_array()) {
    if (!k.is_object()) continue;
    const boost::json::object& jwk = k.get_object();
    if (jwk.contains("d")) {
      return absl::InvalidArgumentError(
          "the key set holds a PRIVATE key; publish public keys only");
    }
    const boost::json::string* kty = StringMember(jwk, "kty");
    const boost::json::string* crv = StringMember(jwk, "crv");
    const boost::json::string* use = StringMember(jwk, "use");
    if (kty == nullptr || *kty != "EC" || crv == nullptr || *crv != "P-256") continue;
    if (use != nullptr && *use != "sig") continue;
    absl::StatusOr<EvpPkeyPtr> key = KeyFromJwkJson(boost::json::serialize(jwk), "JWKS member");
    if (!key.ok()) continue;  // e.g. "alg" other than ES256
    usable.push_back(Key(key->release()));
  }
  if (usable.empty()) {
    return absl::InvalidArgumentError("the key set has no EC P-256 key usable for ES256");
  }
  TokenVerifier verifier(std::move(usable[0]), options);
  for (size_t i = 1; i < usable.size(); ++i)
    verifier.previous_keys_.push_back(std::move(usable[i]));
  return verifier;
}

absl::Status TokenVerifier::AddPreviousKey(absl::string_view public_key) {
  KILN_ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePublicKey(absl::StripAsciiWhitespace(public_key)));
  previous_keys_.push_back(Key(key.release()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> TokenVerifier::Jwks() const {
  std::string out = "{\"keys\":[";
  KILN_ASSIGN_OR_RETURN(std::string current, P256PublicJwk(key_.get()));
  out += current;
  for (const Key& key : previous_keys_) {
    KILN_ASSIGN_OR_RETURN(std::string previous, P256PublicJwk(key.get()));
    absl::StrAppend(&out, ",", previous);
  }
  return out + "]}";
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(absl::string_view jwt, absl::Time now) const {
  if (jwt.empty()) return TokenError("token is empty; send a Fireproof cloud JWT");
  if (jwt.size() > kMaxTokenSize) {
    return TokenError(
        absl::StrCat("token is ", jwt.size(), " bytes; at most ", kMaxTokenSize, " are accepted"));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) {
    return TokenError(absl::StrCat("token is not a JWT (expected 3 dot-separated parts, found ",
                                   parts.size(), ")"));
  }
  KILN_RETURN_IF_ERROR(CheckHeader(parts[0]));

  absl::StatusOr<std::string> signature = Base64UrlDecode(parts[2]);
  if (!signature.ok()) {
    return TokenError(
        absl::StrCat("token signature is not base64url: ", signature.status().message()));
  }
  if (signature->size() != kEs256SignatureBytes) {
    return TokenError(absl::StrCat("token signature is ", signature->size(),
                                   " bytes; an ES256 signature is ", kEs256SignatureBytes,
                                   " (r and s)"));
  }
  // The signing input is the text of the first two parts, dot included.
  const absl::string_view signing_input = jwt.substr(0, parts[0].size() + 1 + parts[1].size());
  absl::Status verified = VerifyEs256(key_.get(), signing_input, *signature);
  for (size_t i = 0;
       verified.code() == absl::StatusCode::kUnauthenticated && i < previous_keys_.size(); ++i) {
    if (VerifyEs256(previous_keys_[i].get(), signing_input, *signature).ok()) {
      verified = absl::OkStatus();
    }
  }
  KILN_RETURN_IF_ERROR(verified);

  // Only signed payloads get parsed.
  absl::StatusOr<std::string> payload_json = Base64UrlDecode(parts[1]);
  if (!payload_json.ok()) {
    return TokenError(
        absl::StrCat("token payload is not base64url: ", payload_json.status().message()));
  }
  std::optional<boost::json::object> payload = ParseJsonObject(*payload_json);
  if (!payload.has_value()) return TokenError("token payload is not a JSON object");

  KILN_ASSIGN_OR_RETURN(std::optional<absl::Time> exp, TimeClaim(*payload, "exp"));
  KILN_ASSIGN_OR_RETURN(std::optional<absl::Time> nbf, TimeClaim(*payload, "nbf"));
  KILN_ASSIGN_OR_RETURN(std::optional<absl::Time> iat, TimeClaim(*payload, "iat"));
  if (!exp.has_value() && options_.require_exp) {
    return TokenError(
        "token has no \"exp\" (expiry) claim; tokens that never expire are refused (mint one "
        "with an expiry, or start kiln-edge with --token_allow_no_exp)");
  }
  if (exp.has_value() && now >= *exp + options_.clock_skew) {
    return TokenError(absl::StrCat("token expired at ", UtcText(*exp), " (it is now ", UtcText(now),
                                   "); get a new token"));
  }
  if (nbf.has_value() && now < *nbf - options_.clock_skew) {
    return TokenError(absl::StrCat("token is not valid before ", UtcText(*nbf), " (it is now ",
                                   UtcText(now),
                                   "); check the clocks of the token issuer and this server"));
  }

  KILN_ASSIGN_OR_RETURN(TokenClaims claims, ParseClaims(*payload));
  if (exp.has_value()) claims.expires = *exp;
  if (iat.has_value()) claims.issued_at = *iat;
  return claims;
}

}  // namespace kiln
