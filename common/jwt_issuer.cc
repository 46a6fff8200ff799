#include "common/jwt_issuer.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace kiln {
namespace {

constexpr int kP256FieldBytes = 32;

using Pkey = EvpPkeyPtr;

absl::Status OpenSslInternal(absl::string_view what) {
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("OpenSSL failed to ", what));
}

std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // no padding
  return out;
}

absl::StatusOr<std::string> Coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return OpenSslInternal("read a key coordinate");
  BignumPtr bn(raw);
  std::string out(kP256FieldBytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kP256FieldBytes) !=
      kP256FieldBytes) {
    return OpenSslInternal("encode a key coordinate");
  }
  return out;
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1) {
    ERR_clear_error();
    return false;
  }
  return absl::string_view(group, len) == "prime256v1";
}

std::string PublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The JOSE form (r || s, 32 bytes each) of an ES256 signature over `input`.
absl::StatusOr<std::string> SignEs256(EVP_PKEY* key, absl::string_view input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return OpenSslInternal("start an ES256 signature");
  }
  size_t der_len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, in, input.size()) != 1) {
    return OpenSslInternal("size an ES256 signature");
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len, in,
                     input.size()) != 1) {
    return OpenSslInternal("make an ES256 signature");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, der_len));
  if (sig == nullptr) return OpenSslInternal("decode an ECDSA signature");
  std::string out(2 * kP256FieldBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kP256FieldBytes) != kP256FieldBytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kP256FieldBytes, kP256FieldBytes) !=
          kP256FieldBytes) {
    return OpenSslInternal("encode an ES256 signature");
  }
  return out;
}

absl::Status CheckGrant(const TokenGrant& g) {
  if (g.user_id.empty()) return absl::InvalidArgumentError("user id is required");
  if (g.tenants.empty()) return absl::InvalidArgumentError("a token needs at least one tenant");
  if (g.ledgers.empty()) return absl::InvalidArgumentError("a token needs at least one ledger");
  for (const auto& t : g.tenants) {
    if (t.empty()) return absl::InvalidArgumentError("tenant ids must not be empty");
  }
  for (const auto& l : g.ledgers) {
    if (l.id.empty()) return absl::InvalidArgumentError("ledger ids must not be empty");
    if (l.right != "read" && l.right != "write") {
      return absl::InvalidArgumentError("a ledger's right must be \"read\" or \"write\"");
    }
  }
  if (g.valid_for <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the validity must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> P256PublicJwk(EVP_PKEY* key) {
  if (!IsP256(key)) {
    return absl::InvalidArgumentError("the issuer key must be an EC P-256 (prime256v1) key");
  }
  KILN_ASSIGN_OR_RETURN(std::string x, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
  KILN_ASSIGN_OR_RETURN(std::string y, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
  // RFC 7638: the thumbprint covers the required members in lexicographic order, no whitespace.
  std::string canonical = absl::StrCat(R"({"crv":"P-256","kty":"EC","x":")", Base64Url(x),
                                       R"(","y":")", Base64Url(y), R"("})");
  std::string kid = Base64Url(DigestBytes(Sha256(canonical)));
  boost::json::object jwk{{"kty", "EC"},       {"crv", "P-256"}, {"x", Base64Url(x)},
                          {"y", Base64Url(y)}, {"alg", "ES256"}, {"use", "sig"},
                          {"kid", kid}};
  return boost::json::serialize(jwk);
}

absl::StatusOr<std::string> GenerateP256PrivateKeyPem() {
  Pkey key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslInternal("generate a P-256 key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslInternal("write a private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

void TokenIssuer::KeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

TokenIssuer::TokenIssuer(Key key, std::string issuer, std::string jwk, std::string kid,
                         std::string pem)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      public_jwk_(std::move(jwk)),
      kid_(std::move(kid)),
      public_pem_(std::move(pem)) {}
TokenIssuer::TokenIssuer(TokenIssuer&&) noexcept = default;
TokenIssuer& TokenIssuer::operator=(TokenIssuer&&) noexcept = default;
TokenIssuer::~TokenIssuer() = default;

absl::StatusOr<TokenIssuer> TokenIssuer::Create(absl::string_view private_key_pem,
                                                std::string issuer) {
  if (!absl::StrContains(private_key_pem, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(
        "the issuer key must be a PEM private key (\"-----BEGIN EC PRIVATE KEY-----\" or "
        "\"-----BEGIN PRIVATE KEY-----\"), e.g. from `openssl ecparam -name prime256v1 -genkey`");
  }
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  if (bio == nullptr) return OpenSslInternal("create a memory BIO");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (raw == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the issuer key PEM does not hold a readable, unencrypted private key");
  }
  Key key(raw);
  absl::StatusOr<std::string> jwk = P256PublicJwk(key.get());
  if (!jwk.ok()) return jwk.status();
  boost::json::error_code ec;
  boost::json::value parsed = boost::json::parse(*jwk, ec);
  std::string kid(parsed.at("kid").as_string().c_str());
  std::string pem = PublicPem(key.get());
  if (pem.empty()) return OpenSslInternal("write the public key");
  return TokenIssuer(std::move(key), std::move(issuer), *std::move(jwk), std::move(kid),
                     std::move(pem));
}

absl::StatusOr<std::string> TokenIssuer::Issue(const TokenGrant& grant, absl::Time now) const {
  KILN_RETURN_IF_ERROR(CheckGrant(grant));
  std::string selected_tenant =
      grant.selected_tenant.empty() ? grant.tenants[0] : grant.selected_tenant;
  std::string selected_ledger =
      grant.selected_ledger.empty() ? grant.ledgers[0].id : grant.selected_ledger;
  bool tenant_listed = false, ledger_listed = false;
  boost::json::array tenants, ledgers;
  for (const auto& t : grant.tenants) {
    tenants.push_back(boost::json::object{{"id", t}, {"role", "member"}});
    tenant_listed |= t == selected_tenant;
  }
  for (const auto& l : grant.ledgers) {
    ledgers.push_back(boost::json::object{{"id", l.id}, {"role", "member"}, {"right", l.right}});
    ledger_listed |= l.id == selected_ledger;
  }
  if (!tenant_listed || !ledger_listed) {
    return absl::InvalidArgumentError("the selected tenant and ledger must be among those granted");
  }
  const int64_t iat = absl::ToUnixSeconds(now);
  boost::json::object payload{
      {"userId", grant.user_id},
      {"email", grant.email.empty() ? grant.user_id + "@kiln.invalid" : grant.email},
      {"created", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone())},
      {"tenants", std::move(tenants)},
      {"ledgers", std::move(ledgers)},
      {"selected", boost::json::object{{"tenant", selected_tenant}, {"ledger", selected_ledger}}},
      {"iss", issuer_},
      {"aud", "fireproof"},
      {"iat", iat},
      {"nbf", iat},
      {"exp", absl::ToUnixSeconds(now + grant.valid_for)}};
  boost::json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
  std::string input = absl::StrCat(Base64Url(boost::json::serialize(header)), ".",
                                   Base64Url(boost::json::serialize(payload)));
  KILN_ASSIGN_OR_RETURN(std::string signature, SignEs256(key_.get(), input));
  return absl::StrCat(input, ".", Base64Url(signature));
}

}  // namespace kiln
