#include "common/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/multibase.h"
#include "common/openssl_ptr.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_clock.h"
#include "tests/support/mutate.h"

namespace kiln {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- Vectors from the real Fireproof runtime ----
//
// Produced on 2026-11-26 with Node 20 and @fireproof/core-runtime@0.24.19 (jose 6.2.18), by
//   const kp = await sts.SessionTokenService.generateKeyPair("ES256");
//   const svc = await sts.SessionTokenService.create({ token: kp.strings.privateKey });
//   await svc.tokenFor({ userId, email, created: new Date(), tenants, ledgers[, validFor] });
// The runtime's own svc.validate() (jose.jwtVerify) accepted kWriteToken and kReadToken and
// rejected kExpiredToken. The other tokens were signed with jose directly (SignJWT,
// UnsecuredJWT) using the same private key, except kOtherKeyToken (a second generateKeyPair).
// The JWK and PEM forms are jose.exportJWK(kp.material.publicKey) and
// crypto.createPublicKey({key: jwk, format: "jwk"}).export({type: "spki", format: "pem"}).
// The private keys were not kept.

// kp.strings.publicKey: "z" + base58btc of the JWK JSON below.
constexpr char kRuntimePublicKey[] =
    "zeWndr5LEoaySgKSo2aZniYqcCp94BLekrLTmdWjmzM8rAGVUmkafCxCzDwiL6mWpdbyzBZKezw1PMsbnCbcvLR7ok2FVH"
    "3xhdVLo2ohJnUKD2gdzmuGmFBnabXkDL9z8HE52W3KKjs5hVgPBLG7wDzguoFAuXzRQzbb5YHD67kmz";
constexpr char kRuntimePublicJwk[] =
    R"({"kty":"EC","x":"rMQpBXPrHw58MCLgGu0DcNr-PMhrxtM_VIjEsHVA2WI",)"
    R"("y":"Fqkcla5hrNi7fwoh7n1v4ZA-htkWeO8reaUBaMNawW0","crv":"P-256"})";
constexpr char kRuntimePublicPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErMQpBXPrHw58MCLgGu0DcNr+PMhr\n"
    "xtM/VIjEsHVA2WIWqRyVrmGs2Lt/CiHufW/hkD6G2RZ47yt5pQFow1rBbQ==\n"
    "-----END PUBLIC KEY-----\n";
// The public key of a second generateKeyPair("ES256").
constexpr char kOtherPublicKey[] =
    "zeWndr5LEoaySgKSo2aZniYqU74oN4FCU3j5VHZk2iWsGupvsuagjApyaMNaMRxG8yA9Lw3sHdPpTgfZAG8JrbKwaJGb7y"
    "dQ4MmRoJEZA51QsK6aojAEp1fn5soXWRPcG182zYe3rcKLNKBupAwLci4ppfA7gvoDkxXCtS5iEMDfa";

// tokenFor({userId:"u1", email:"u1@example.com", created:new Date(),
//           tenants:[{id:"t1",role:"admin"}], ledgers:[{id:"l1",role:"admin",right:"write"}]})
// Header {"alg":"ES256"}; iat 1795669836 (seconds); exp 1795669839773 (MILLISECONDS: Date.now() +
// the default validFor of 3600, so 3.773 s after iat); iss/aud "fireproof"; selected t1/l1.
constexpr char kWriteToken[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MSIsInRlbmFudHMiOlt7ImlkIjoidDEiLCJyb2xlIjoiYWRtaW4ifV0sImxlZGdlcnMiOlt7ImlkIj"
    "oibDEiLCJyb2xlIjoiYWRtaW4iLCJyaWdodCI6IndyaXRlIn1dLCJlbWFpbCI6InUxQGV4YW1wbGUuY29tIiwiY3JlYXRl"
    "ZCI6IjIwMjYtMTEtMjZUMDU6MTA6MzYuMTczWiIsInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjY5ODM2LCJpc3MiOiJmaXJlcHJvb2YiLCJhdWQiOiJmaXJlcHJvb2YiLCJleHAiOjE3OTU2Njk4Mzk3"
    "NzN9."
    "tqG6H7Bi6G8x7Ll1W1OuDtoorr5LWhJeJxNbWnwqQayaSWPOZiQfJPK8yO3s9q6zlnNXEaRWI6FBSmGYmoXCOA";
constexpr int64_t kWriteTokenIat = 1795669836;
constexpr int64_t kWriteTokenExpMillis = 1795669839773;

// tokenFor({userId:"u2", email:"u2@example.com", created:new Date(),
//           tenants:[{id:"t2",role:"member"},{id:"t3",role:"owner"}],
//           ledgers:[{id:"l2",role:"member",right:"read"},{id:"l3",role:"admin",right:"write"}],
//           validFor: 3600 * 1000})
// iat 1795669836; exp 1795673436176 (milliseconds, one hour after minting); selected t2/l2.
constexpr char kReadToken[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MiIsInRlbmFudHMiOlt7ImlkIjoidDIiLCJyb2xlIjoibWVtYmVyIn0seyJpZCI6InQzIiwicm9sZS"
    "I6Im93bmVyIn1dLCJsZWRnZXJzIjpbeyJpZCI6ImwyIiwicm9sZSI6Im1lbWJlciIsInJpZ2h0IjoicmVhZCJ9LHsiaWQi"
    "OiJsMyIsInJvbGUiOiJhZG1pbiIsInJpZ2h0Ijoid3JpdGUifV0sImVtYWlsIjoidTJAZXhhbXBsZS5jb20iLCJjcmVhdG"
    "VkIjoiMjAyNi0xMS0yNlQwNToxMDozNi4xNzZaIiwic2VsZWN0ZWQiOnsidGVuYW50IjoidDIiLCJsZWRnZXIiOiJsMiJ9"
    "LCJpYXQiOjE3OTU2Njk4MzYsImlzcyI6ImZpcmVwcm9vZiIsImF1ZCI6ImZpcmVwcm9vZiIsImV4cCI6MTc5NTY3MzQzNj"
    "E3Nn0."
    "OHHPTIqLZYEHFkp22cwFtiCgaGs_RUrewZ8t_1IXbepZJLxUmV6EXkIsOw1NfUe7-ms9fB8d06PeCdMVICdBag";
constexpr int64_t kReadTokenExpMillis = 1795673436176;

// jose SignJWT, same claims as kWriteToken, exp in SECONDS: iat 1795662636, exp 1795666236
// (one hour before kWriteTokenIat).
constexpr char kExpiredToken[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MSIsImVtYWlsIjoidTFAZXhhbXBsZS5jb20iLCJjcmVhdGVkIjoiMjAyNi0xMS0yNlQwNToxMDozNi"
    "4xNzdaIiwidGVuYW50cyI6W3siaWQiOiJ0MSIsInJvbGUiOiJhZG1pbiJ9XSwibGVkZ2VycyI6W3siaWQiOiJsMSIsInJv"
    "bGUiOiJhZG1pbiIsInJpZ2h0Ijoid3JpdGUifV0sInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjYyNjM2LCJpc3MiOiJmaXJlcHJvb2YiLCJhdWQiOiJmaXJlcHJvb2YiLCJleHAiOjE3OTU2NjYyMzZ9"
    "."
    "BO63JxLG4VueMvF1ed2R1FBqIBpo32Cel-hrhDIMddi8uS1mTyQT5T_UCwGCavG3j4SKgeItWH3wCxkyF_XlIQ";
constexpr int64_t kExpiredTokenExp = 1795666236;

// jose SignJWT, same claims, iat 1795669836, nbf 1795756236 (a day later), exp 2111029836 (all
// seconds).
constexpr char kNotYetValidToken[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MSIsImVtYWlsIjoidTFAZXhhbXBsZS5jb20iLCJjcmVhdGVkIjoiMjAyNi0xMS0yNlQwNToxMDozNi"
    "4xNzdaIiwidGVuYW50cyI6W3siaWQiOiJ0MSIsInJvbGUiOiJhZG1pbiJ9XSwibGVkZ2VycyI6W3siaWQiOiJsMSIsInJv"
    "bGUiOiJhZG1pbiIsInJpZ2h0Ijoid3JpdGUifV0sInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjY5ODM2LCJuYmYiOjE3OTU3NTYyMzYsImlzcyI6ImZpcmVwcm9vZiIsImF1ZCI6ImZpcmVwcm9vZiIs"
    "ImV4cCI6MjExMTAyOTgzNn0."
    "_7Z0UUcsCnUK2-0h_aZGC8o_cvmK9YNzLQIvD29UZ3kIobli3xWJ6VK6UUOBg6vC-OnQhsjMQKZDI1vEB8UunA";
constexpr int64_t kNotYetValidTokenNbf = 1795756236;

// jose UnsecuredJWT (header {"alg":"none"}, empty signature), same claims.
constexpr char kAlgNoneToken[] =
    "eyJhbGciOiJub25lIn0."
    "eyJ1c2VySWQiOiJ1MSIsImVtYWlsIjoidTFAZXhhbXBsZS5jb20iLCJjcmVhdGVkIjoiMjAyNi0xMS0yNlQwNToxMDozNi"
    "4xNzdaIiwidGVuYW50cyI6W3siaWQiOiJ0MSIsInJvbGUiOiJhZG1pbiJ9XSwibGVkZ2VycyI6W3siaWQiOiJsMSIsInJv"
    "bGUiOiJhZG1pbiIsInJpZ2h0Ijoid3JpdGUifV0sInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjY5ODM2fQ.";

// jose SignJWT with alg HS256 and the secret "0123456789abcdef0123456789abcdef", same claims.
constexpr char kHs256Token[] =
    "eyJhbGciOiJIUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MSIsImVtYWlsIjoidTFAZXhhbXBsZS5jb20iLCJjcmVhdGVkIjoiMjAyNi0xMS0yNlQwNToxMDozNi"
    "4xNzdaIiwidGVuYW50cyI6W3siaWQiOiJ0MSIsInJvbGUiOiJhZG1pbiJ9XSwibGVkZ2VycyI6W3siaWQiOiJsMSIsInJv"
    "bGUiOiJhZG1pbiIsInJpZ2h0Ijoid3JpdGUifV0sInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjY5ODM2fQ."
    "_Oy4z286XOIMJN16_2aLylTclWQS-Pxbz88TOGvAimk";

// tokenFor with kWriteToken's arguments, signed by the private key of kOtherPublicKey.
constexpr char kOtherKeyToken[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJ1c2VySWQiOiJ1MSIsInRlbmFudHMiOlt7ImlkIjoidDEiLCJyb2xlIjoiYWRtaW4ifV0sImxlZGdlcnMiOlt7ImlkIj"
    "oibDEiLCJyb2xlIjoiYWRtaW4iLCJyaWdodCI6IndyaXRlIn1dLCJlbWFpbCI6InUxQGV4YW1wbGUuY29tIiwiY3JlYXRl"
    "ZCI6IjIwMjYtMTEtMjZUMDU6MTA6MzYuMTgxWiIsInNlbGVjdGVkIjp7InRlbmFudCI6InQxIiwibGVkZ2VyIjoibDEifS"
    "wiaWF0IjoxNzk1NjY5ODM2LCJpc3MiOiJmaXJlcHJvb2YiLCJhdWQiOiJmaXJlcHJvb2YiLCJleHAiOjE3OTU2Njk4Mzk3"
    "ODF9."
    "LoYNjx1UO3HLJQqqmws6faedH2uE0mS_NuR4MB6L4_wle2xx6LKW_FYZ4puSC9jvjLflQvFA9ZVds_JsczMR7w";

// ---- Helpers ----

std::string Base64UrlEncode(absl::string_view bytes) {
  return absl::StrReplaceAll(Base64Encode(bytes, Base64Padding::kNone), {{"+", "-"}, {"/", "_"}});
}

std::string Base64UrlDecodeForTest(absl::string_view text) {
  absl::StatusOr<std::string> bytes =
      Base64Decode(absl::StrReplaceAll(text, {{"-", "+"}, {"_", "/"}}), Base64Padding::kNone);
  CHECK(bytes.ok()) << bytes.status();
  return *bytes;
}

std::vector<std::string> Parts(absl::string_view jwt) { return absl::StrSplit(jwt, '.'); }

// kWriteToken's payload and signature under the header `header_json` (base64url-encoded here).
std::string WriteTokenWithHeader(absl::string_view header_json) {
  const std::vector<std::string> parts = Parts(kWriteToken);
  return absl::StrCat(Base64UrlEncode(header_json), ".", parts[1], ".", parts[2]);
}

// A refused verification: UNAUTHENTICATED with `detail` in the message.
MATCHER_P(IsUnauthenticatedWith, detail, "") {
  *result_listener << "status is " << arg.status();
  return arg.status().code() == absl::StatusCode::kUnauthenticated &&
         absl::StrContains(arg.status().message(), detail);
}

TokenVerifier RuntimeVerifier(TokenVerifierOptions options = {}) {
  absl::StatusOr<TokenVerifier> verifier = TokenVerifier::Create(kRuntimePublicKey, options);
  CHECK(verifier.ok()) << verifier.status();
  return *std::move(verifier);
}

std::string PemOf(EVP_PKEY* key, bool private_key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  CHECK_EQ(private_key
               ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PUBKEY(bio.get(), key),
           1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// Signs arbitrary headers and payloads with a fresh P-256 key, for claims the runtime cannot be
// made to produce.
class TestSigner {
 public:
  static TokenVerifierOptions LenientOptions() {
    TokenVerifierOptions options;
    options.require_exp = false;
    return options;
  }

  TestSigner() : key_(EVP_EC_gen("P-256")) { CHECK(key_ != nullptr); }

  std::string PublicPem() const { return PemOf(key_.get(), /*private_key=*/false); }

  // Returns base64url(header).base64url(payload).base64url(r || s).
  std::string Sign(absl::string_view header_json, absl::string_view payload_json) const {
    const std::string input =
        absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    CHECK_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()), 1);
    size_t der_size = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    CHECK_EQ(EVP_DigestSign(ctx.get(), nullptr, &der_size, in, input.size()), 1);
    std::string der(der_size, '\0');
    auto* der_out = reinterpret_cast<unsigned char*>(der.data());
    CHECK_EQ(EVP_DigestSign(ctx.get(), der_out, &der_size, in, input.size()), 1);
    const auto* der_in = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &der_in, static_cast<long>(der_size)), &ECDSA_SIG_free);
    CHECK(sig != nullptr);
    unsigned char raw[64];
    CHECK_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32), 32);
    CHECK_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32), 32);
    return absl::StrCat(input, ".",
                        Base64UrlEncode(absl::string_view(reinterpret_cast<char*>(raw), 64)));
  }

  std::string SignPayload(absl::string_view payload_json) const {
    return Sign(R"({"alg":"ES256"})", payload_json);
  }

  // Most tests here sign claims without "exp" to check one thing at a time, so this verifier
  // accepts them; the "exp" requirement (on by default) has tests of its own.
  TokenVerifier Verifier(TokenVerifierOptions options = LenientOptions()) const {
    absl::StatusOr<TokenVerifier> verifier = TokenVerifier::Create(PublicPem(), options);
    CHECK(verifier.ok()) << verifier.status();
    return *std::move(verifier);
  }

 private:
  EvpPkeyPtr key_;
};

constexpr char kMinimalClaims[] = R"({"userId":"u1","tenants":[{"id":"t1","role":"admin"}],)"
                                  R"("ledgers":[{"id":"l1","role":"admin","right":"write"}]})";

absl::Time WriteTokenIssued() { return absl::FromUnixSeconds(kWriteTokenIat); }

// ---- Runtime tokens ----

TEST(TokenVerifierTest, RuntimeWriteTokenVerifiesWithItsClaims) {
  FakeClock clock(WriteTokenIssued());
  absl::StatusOr<TokenClaims> claims = RuntimeVerifier().Verify(kWriteToken, clock.Now());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, "u1");
  EXPECT_EQ(claims->tenants, std::vector<std::string>{"t1"});
  // Each ledger as {id, right, role}.
  EXPECT_THAT(claims->ledgers, ElementsAre(FieldsAre("l1", "write", "admin")));
  EXPECT_EQ(claims->selected_tenant, "t1");
  EXPECT_EQ(claims->selected_ledger, "l1");
  EXPECT_EQ(claims->expires, absl::FromUnixMillis(kWriteTokenExpMillis));
  EXPECT_EQ(claims->issued_at, absl::FromUnixSeconds(kWriteTokenIat));
  EXPECT_TRUE(claims->AllowsLedger({"t1", "l1"}));
  EXPECT_FALSE(claims->AllowsLedger({"t1", "l2"}));
  EXPECT_FALSE(claims->AllowsLedger({"t2", "l1"}));
  EXPECT_TRUE(claims->CanWrite("l1"));
}

TEST(TokenVerifierTest, RuntimeReadTokenVerifiesWithReadRightAndSeveralTenants) {
  absl::StatusOr<TokenClaims> claims = RuntimeVerifier().Verify(kReadToken, WriteTokenIssued());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, "u2");
  EXPECT_EQ(claims->tenants, (std::vector<std::string>{"t2", "t3"}));
  EXPECT_THAT(claims->ledgers,
              ElementsAre(FieldsAre("l2", "read", "member"), FieldsAre("l3", "write", _)));
  EXPECT_EQ(claims->selected_tenant, "t2");
  EXPECT_EQ(claims->selected_ledger, "l2");
  EXPECT_EQ(claims->expires, absl::FromUnixMillis(kReadTokenExpMillis));
  EXPECT_FALSE(claims->CanWrite("l2"));
  EXPECT_TRUE(claims->CanWrite("l3"));
  EXPECT_FALSE(claims->CanWrite("l1"));
  // Tenants and ledgers are independent lists, as in the reference server.
  EXPECT_TRUE(claims->AllowsLedger({"t3", "l2"}));
  EXPECT_TRUE(claims->AllowsLedger({"t2", "l3"}));
  EXPECT_FALSE(claims->AllowsLedger({"t1", "l2"}));
}

TEST(TokenVerifierTest, JwkJsonPemJwksAndBase64FormsOfTheKeyVerifyTheSameToken) {
  const std::vector<std::string> forms = {
      kRuntimePublicKey,
      absl::StrCat("  ", kRuntimePublicKey, "\n"),  // As read from an env file.
      kRuntimePublicJwk,
      absl::StrCat(R"({"keys":[)", kRuntimePublicJwk, "]}"),
      Base64Encode(kRuntimePublicJwk, Base64Padding::kRequired),
      Base64Encode(kRuntimePublicJwk, Base64Padding::kNone),
      kRuntimePublicPem,
      std::string(absl::StripSuffix(kRuntimePublicPem, "\n")),
      // A JWK with "alg" and "use", as JWKS endpoints publish them.
      absl::StrReplaceAll(kRuntimePublicJwk, {{R"("kty")", R"("alg":"ES256","use":"sig","kty")"}}),
  };
  // The z-string really is base58btc of the JWK JSON.
  EXPECT_EQ(MultibaseDecode(kRuntimePublicKey).value_or(""), kRuntimePublicJwk);
  for (const std::string& form : forms) {
    absl::StatusOr<TokenVerifier> verifier = TokenVerifier::Create(form);
    ASSERT_TRUE(verifier.ok()) << form << ": " << verifier.status();
    absl::StatusOr<TokenClaims> claims = verifier->Verify(kWriteToken, WriteTokenIssued());
    ASSERT_TRUE(claims.ok()) << form << ": " << claims.status();
    EXPECT_EQ(claims->user_id, "u1");
    EXPECT_EQ(verifier->Verify(kOtherKeyToken, WriteTokenIssued()).status().code(),
              absl::StatusCode::kUnauthenticated)
        << form;
  }
}

// ---- Time ----

TEST(TokenVerifierTest, MillisecondExpIsReadAsMillisecondsWithClockSkew) {
  // kWriteToken's exp is 1795669839773 ms = 2026-11-26T05:10:39.773Z, 3.773 s after iat. Read as
  // seconds it would be tens of thousands of years away.
  const TokenVerifier verifier = RuntimeVerifier();
  const absl::Time exp = absl::FromUnixMillis(kWriteTokenExpMillis);
  FakeClock clock(exp - absl::Seconds(1));
  EXPECT_TRUE(verifier.Verify(kWriteToken, clock.Now()).ok());
  clock.Advance(absl::Seconds(60));  // exp + 59 s: inside the default 60 s skew.
  EXPECT_TRUE(verifier.Verify(kWriteToken, clock.Now()).ok());
  clock.Advance(absl::Seconds(1));  // exp + 60 s.
  absl::StatusOr<TokenClaims> late = verifier.Verify(kWriteToken, clock.Now());
  EXPECT_THAT(late, IsUnauthenticatedWith("token expired at 2026-11-26T05:10:39.773+00:00"));
  EXPECT_THAT(late.status().message(), HasSubstr("get a new token"));
}

TEST(TokenVerifierTest, RuntimeTokenMintedForAnHourExpiresAfterAnHour) {
  const TokenVerifier verifier = RuntimeVerifier();
  FakeClock clock(WriteTokenIssued());
  clock.Advance(absl::Minutes(59));
  EXPECT_TRUE(verifier.Verify(kReadToken, clock.Now()).ok());
  clock.Advance(absl::Minutes(3));
  EXPECT_EQ(verifier.Verify(kReadToken, clock.Now()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TokenVerifierTest, ZeroClockSkewRejectsAtExactlyExp) {
  TokenVerifierOptions options;
  options.clock_skew = absl::ZeroDuration();
  const TokenVerifier verifier = RuntimeVerifier(options);
  const absl::Time exp = absl::FromUnixMillis(kWriteTokenExpMillis);
  EXPECT_TRUE(verifier.Verify(kWriteToken, exp - absl::Milliseconds(1)).ok());
  EXPECT_EQ(verifier.Verify(kWriteToken, exp).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TokenVerifierTest, SecondsExpInThePastIsUnauthenticated) {
  const TokenVerifier verifier = RuntimeVerifier();
  absl::StatusOr<TokenClaims> claims = verifier.Verify(kExpiredToken, WriteTokenIssued());
  EXPECT_THAT(claims, IsUnauthenticatedWith("token expired at 2026-11-26T04:10:36+00:00 (it is now "
                                            "2026-11-26T05:10:36+00:00)"));
  // The same token is fine before its exp: the signature is good, only time rejects it.
  absl::StatusOr<TokenClaims> earlier =
      verifier.Verify(kExpiredToken, absl::FromUnixSeconds(kExpiredTokenExp - 10));
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_EQ(earlier->expires, absl::FromUnixSeconds(kExpiredTokenExp));
}

TEST(TokenVerifierTest, NbfInTheFutureIsUnauthenticatedUntilNbfMinusSkew) {
  const TokenVerifier verifier = RuntimeVerifier();
  const absl::Time nbf = absl::FromUnixSeconds(kNotYetValidTokenNbf);
  absl::StatusOr<TokenClaims> early = verifier.Verify(kNotYetValidToken, WriteTokenIssued());
  EXPECT_THAT(early, IsUnauthenticatedWith("token is not valid before 2026-11-27T05:10:36+00:00"));
  EXPECT_EQ(verifier.Verify(kNotYetValidToken, nbf - absl::Seconds(61)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(verifier.Verify(kNotYetValidToken, nbf - absl::Seconds(60)).ok());
  EXPECT_TRUE(verifier.Verify(kNotYetValidToken, nbf).ok());
}

TEST(TokenVerifierTest, TimestampsAboveOneHundredBillionAreMillisecondsOthersSeconds) {
  const TestSigner signer;
  const TokenVerifier verifier = signer.Verifier();
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  struct Case {
    std::string exp;
    absl::Time expires;
  };
  const std::vector<Case> cases = {
      {"1700000100", absl::FromUnixSeconds(1700000100)},
      {"1700000100000", absl::FromUnixMillis(1700000100000)},
      {"1700000100.5", absl::FromUnixMillis(1700000100500)},
      {"1.7000001005e12", absl::FromUnixMillis(1700000100500)},
      {"100000000000", absl::FromUnixSeconds(100000000000)},  // 1e11 itself is seconds.
      {"18446744073709551615", absl::InfiniteFuture()},
      {"1e300", absl::InfiniteFuture()},
  };
  for (const Case& c : cases) {
    const std::string payload =
        absl::StrCat(R"({"userId":"u","tenants":[],"ledgers":[],"exp":)", c.exp, "}");
    absl::StatusOr<TokenClaims> claims = verifier.Verify(signer.SignPayload(payload), now);
    ASSERT_TRUE(claims.ok()) << c.exp << ": " << claims.status();
    EXPECT_EQ(claims->expires, c.expires) << c.exp;
  }
  // 100000000001 is milliseconds: March 1973, long expired.
  const std::string old_ms = R"({"userId":"u","tenants":[],"ledgers":[],"exp":100000000001})";
  EXPECT_EQ(verifier.Verify(signer.SignPayload(old_ms), now).status().code(),
            absl::StatusCode::kUnauthenticated);
  // nbf and iat follow the same rule.
  const std::string nbf_ms =
      R"({"userId":"u","tenants":[],"ledgers":[],"nbf":1700000100000,"iat":1700000000000})";
  EXPECT_EQ(verifier.Verify(signer.SignPayload(nbf_ms), now).status().code(),
            absl::StatusCode::kUnauthenticated);
  absl::StatusOr<TokenClaims> later =
      verifier.Verify(signer.SignPayload(nbf_ms), now + absl::Seconds(100));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->issued_at, absl::FromUnixMillis(1700000000000));
}

TEST(TokenVerifierTest, TokenWithoutExpNeverExpires) {
  const TestSigner signer;
  absl::StatusOr<TokenClaims> claims = signer.Verifier().Verify(
      signer.SignPayload(kMinimalClaims), absl::FromUnixSeconds(int64_t{4000000000}));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->expires, absl::InfiniteFuture());
  EXPECT_EQ(claims->issued_at, absl::InfinitePast());
  EXPECT_EQ(claims->selected_tenant, "");
}

TEST(TokenVerifierTest, TokenWithoutExpIsRefusedByDefault) {
  const TestSigner signer;
  absl::StatusOr<TokenClaims> claims =
      signer.Verifier(TokenVerifierOptions{})
          .Verify(signer.SignPayload(kMinimalClaims), absl::FromUnixSeconds(1700000000));
  EXPECT_THAT(claims, IsUnauthenticatedWith("no \"exp\""));
  EXPECT_THAT(claims.status().message(), HasSubstr("--token_allow_no_exp"));
}

TEST(TokenVerifierTest, NonNumericTimeClaimsAreUnauthenticated) {
  const TestSigner signer;
  const TokenVerifier verifier = signer.Verifier();
  for (const char* claim : {"exp", "nbf", "iat"}) {
    for (const char* value : {R"("1700000000")", "null", "true", "[1]", "{}"}) {
      const std::string payload =
          absl::StrCat(R"({"userId":"u","tenants":[],"ledgers":[],")", claim, R"(":)", value, "}");
      absl::StatusOr<TokenClaims> claims =
          verifier.Verify(signer.SignPayload(payload), absl::FromUnixSeconds(1700000000));
      EXPECT_THAT(claims,
                  IsUnauthenticatedWith(absl::StrCat("\"", claim, "\" claim is not a number")))
          << payload;
    }
  }
}

// ---- Signatures and algorithms ----

TEST(TokenVerifierTest, TamperedPayloadIsUnauthenticated) {
  const std::vector<std::string> parts = Parts(kWriteToken);
  // Same claims but another user, with the original signature.
  const std::string payload = absl::StrReplaceAll(Base64UrlDecodeForTest(parts[1]),
                                                  {{R"("userId":"u1")", R"("userId":"u9")"}});
  const std::string forged = absl::StrCat(parts[0], ".", Base64UrlEncode(payload), ".", parts[2]);
  absl::StatusOr<TokenClaims> claims = RuntimeVerifier().Verify(forged, WriteTokenIssued());
  EXPECT_THAT(claims, IsUnauthenticatedWith("token signature does not verify"));
  // A payload from another valid token, with this token's header and signature.
  const std::string spliced = absl::StrCat(parts[0], ".", Parts(kReadToken)[1], ".", parts[2]);
  EXPECT_EQ(RuntimeVerifier().Verify(spliced, WriteTokenIssued()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TokenVerifierTest, TamperedSignatureOrHeaderIsUnauthenticated) {
  const TokenVerifier verifier = RuntimeVerifier();
  const std::vector<std::string> parts = Parts(kWriteToken);
  std::string signature = Base64UrlDecodeForTest(parts[2]);
  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    std::string flipped = signature;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    const std::string token = absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(flipped));
    absl::StatusOr<TokenClaims> claims = verifier.Verify(token, WriteTokenIssued());
    EXPECT_THAT(claims, IsUnauthenticatedWith("token signature does not verify")) << i;
  }
  // r = 0 and s = 0 are never valid.
  const std::string zeros =
      absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(std::string(64, '\0')));
  EXPECT_EQ(verifier.Verify(zeros, WriteTokenIssued()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // An equivalent header in other bytes changes the signing input.
  EXPECT_THAT(
      verifier.Verify(WriteTokenWithHeader(R"({"alg":"ES256","typ":"JWT"})"), WriteTokenIssued()),
      IsUnauthenticatedWith(""));
}

TEST(TokenVerifierTest, AlgNoneIsUnauthenticated) {
  const TokenVerifier verifier = RuntimeVerifier();
  absl::StatusOr<TokenClaims> claims = verifier.Verify(kAlgNoneToken, WriteTokenIssued());
  EXPECT_THAT(claims, IsUnauthenticatedWith("alg \"none\""));
  // "none" with a valid ES256 signature of the original token attached is still refused.
  EXPECT_THAT(verifier.Verify(WriteTokenWithHeader(R"({"alg":"none"})"), WriteTokenIssued()),
              IsUnauthenticatedWith(""));
}

TEST(TokenVerifierTest, OtherAlgorithmsAreUnauthenticated) {
  const TokenVerifier verifier = RuntimeVerifier();
  absl::StatusOr<TokenClaims> hs = verifier.Verify(kHs256Token, WriteTokenIssued());
  EXPECT_THAT(hs, IsUnauthenticatedWith("token algorithm \"HS256\" is not accepted"));
  // Even with a signature that is valid ES256 for the signing input (signed by the right key).
  for (const char* header : {R"({"alg":"ES384"})", R"({"alg":"es256"})", R"({"alg":"RS256"})",
                             R"({"alg":"ES256","crit":["b64"],"b64":false})", R"({"alg":1})",
                             R"({})", R"([])", R"("ES256")"}) {
    EXPECT_THAT(verifier.Verify(WriteTokenWithHeader(header), WriteTokenIssued()),
                IsUnauthenticatedWith(""))
        << header;
  }
  // With a signature made by the verifier's own key, "crit" is still refused.
  const TestSigner signer;
  absl::StatusOr<TokenClaims> crit = signer.Verifier().Verify(
      signer.Sign(R"({"alg":"ES256","crit":["exp"]})", kMinimalClaims), WriteTokenIssued());
  EXPECT_THAT(crit, IsUnauthenticatedWith("crit"));
}

TEST(TokenVerifierTest, TokenSignedByAnotherKeyIsUnauthenticated) {
  absl::StatusOr<TokenClaims> claims = RuntimeVerifier().Verify(kOtherKeyToken, WriteTokenIssued());
  EXPECT_THAT(claims, IsUnauthenticatedWith("token signature does not verify"));
  absl::StatusOr<TokenVerifier> other = TokenVerifier::Create(kOtherPublicKey);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->Verify(kWriteToken, WriteTokenIssued()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(other->Verify(kOtherKeyToken, WriteTokenIssued()).ok());
}

// Key rotation: with the new key current and the old one previous, tokens of both verify; a
// previous key does not weaken the other checks (expiry still applies).
TEST(TokenVerifierTest, PreviousKeysVerifyTokensTheySignedDuringRotation) {
  absl::StatusOr<TokenVerifier> rotating = TokenVerifier::Create(kOtherPublicKey);
  ASSERT_TRUE(rotating.ok()) << rotating.status();
  EXPECT_EQ(rotating->Verify(kWriteToken, WriteTokenIssued()).status().code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(rotating->AddPreviousKey(kRuntimePublicKey).ok());
  EXPECT_TRUE(rotating->Verify(kWriteToken, WriteTokenIssued()).ok());
  EXPECT_TRUE(rotating->Verify(kOtherKeyToken, WriteTokenIssued()).ok());
  absl::StatusOr<TokenClaims> late =
      rotating->Verify(kWriteToken, WriteTokenIssued() + absl::Hours(3));
  EXPECT_THAT(late, IsUnauthenticatedWith("expired"));
  EXPECT_EQ(rotating->AddPreviousKey("not a key").code(), absl::StatusCode::kInvalidArgument);
}

// ---- Malformed tokens ----

TEST(TokenVerifierTest, MalformedTokensAreUnauthenticatedWithActionableMessages) {
  const TokenVerifier verifier = RuntimeVerifier();
  const std::vector<std::string> parts = Parts(kWriteToken);
  struct Case {
    std::string token;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "token is empty"},
      {"dev-token-not-a-jwt", "token is not a JWT (expected 3 dot-separated parts, found 1)"},
      {absl::StrCat(parts[0], ".", parts[1]), "expected 3 dot-separated parts, found 2"},
      {absl::StrCat(kWriteToken, ".x"), "expected 3 dot-separated parts, found 4"},
      {std::string(kMaxTokenSize + 1, 'a'), "token is 16385 bytes; at most 16384 are accepted"},
      {absl::StrCat(".", parts[1], ".", parts[2]), "token header is not a JSON object"},
      {absl::StrCat("eyJhbGciOiJFUzI1NiJ9=.", parts[1], ".", parts[2]),
       "token header is not base64url"},
      {absl::StrCat("eyJhbGciOiJFUzI1NiJ9+.", parts[1], ".", parts[2]),
       "token header is not base64url"},
      {WriteTokenWithHeader("{\"alg\":\"ES256\""), "token header is not a JSON object"},
      {WriteTokenWithHeader(R"({"typ":"JWT"})"), "token header has no \"alg\" string"},
      {absl::StrCat(parts[0], ".", parts[1], "."), "token signature is 0 bytes"},
      {absl::StrCat(parts[0], ".", parts[1], ".", parts[2].substr(1)),
       "token signature is not base64url"},
      {absl::StrCat(parts[0], ".", parts[1], ".", parts[2], "AAAA"),
       "token signature is 67 bytes; an ES256 signature is 64"},
      {absl::StrCat(parts[0], ".", parts[1], ".+", parts[2].substr(1)),
       "token signature is not base64url"},
      {absl::StrCat(parts[0], ".", parts[1], "!.", parts[2]), "token signature does not verify"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenClaims> claims = verifier.Verify(c.token, WriteTokenIssued());
    EXPECT_THAT(claims, IsUnauthenticatedWith(c.message)) << c.message;
  }
}

TEST(TokenVerifierTest, ErrorMessagesNeverContainTheToken) {
  const TokenVerifier verifier = RuntimeVerifier();
  const std::vector<std::string> parts = Parts(kWriteToken);
  const std::vector<std::string> tokens = {
      kExpiredToken,
      kAlgNoneToken,
      kHs256Token,
      kOtherKeyToken,
      absl::StrCat(parts[0], ".", parts[1], ".", parts[2].substr(3)),
      absl::StrCat(parts[0], ".", parts[1]),
  };
  for (const std::string& token : tokens) {
    absl::StatusOr<TokenClaims> claims = verifier.Verify(token, WriteTokenIssued());
    ASSERT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
    for (const std::string& part : Parts(token)) {
      if (part.size() < 8) continue;
      EXPECT_THAT(std::string(claims.status().message()), Not(HasSubstr(part.substr(0, 8))));
      EXPECT_THAT(std::string(claims.status().message()),
                  Not(HasSubstr(part.substr(part.size() - 8))));
    }
  }
}

TEST(TokenVerifierTest, PayloadsThatAreNotFireproofClaimsAreUnauthenticated) {
  const TestSigner signer;
  const TokenVerifier verifier = signer.Verifier();
  struct Case {
    std::string payload;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[]", "token payload is not a JSON object"},
      {"not json", "token payload is not a JSON object"},
      {"{\"userId\":\"u\xff\"}", "token payload is not a JSON object"},  // Not UTF-8.
      {R"({"tenants":[],"ledgers":[]})", "token has no \"userId\" claim"},
      {R"({"userId":"","tenants":[],"ledgers":[]})", "token has no \"userId\" claim"},
      {R"({"userId":7,"tenants":[],"ledgers":[]})", "token has no \"userId\" claim"},
      {R"({"userId":"u","ledgers":[]})", "token has no \"tenants\" array"},
      {R"({"userId":"u","tenants":{},"ledgers":[]})", "token has no \"tenants\" array"},
      {R"({"userId":"u","tenants":["t1"],"ledgers":[]})", "\"tenants\" has an entry"},
      {R"({"userId":"u","tenants":[{"role":"admin"}],"ledgers":[]})", "\"tenants\" has an entry"},
      {R"({"userId":"u","tenants":[]})", "token has no \"ledgers\" array"},
      {R"({"userId":"u","tenants":[],"ledgers":[{"id":"l1","role":"admin"}]})",
       "\"ledgers\" has an entry"},
      {R"({"userId":"u","tenants":[],"ledgers":[{"id":1,"right":"read"}]})",
       "\"ledgers\" has an entry"},
      {R"({"userId":"u","tenants":[],"ledgers":[{"id":"l","right":"read","role":5}]})",
       "\"role\" that is not a string"},
      {R"({"userId":"u","tenants":[],"ledgers":[],"selected":"t1"})",
       "\"selected\" claim is not an object"},
      {R"({"userId":"u","tenants":[],"ledgers":[],"selected":{"tenant":1}})",
       "\"selected\".tenant is not a string"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenClaims> claims =
        verifier.Verify(signer.SignPayload(c.payload), WriteTokenIssued());
    EXPECT_THAT(claims, IsUnauthenticatedWith(c.message)) << c.payload;
  }
}

TEST(TokenVerifierTest, UnknownClaimsAndRolesAreIgnored) {
  const TestSigner signer;
  absl::StatusOr<TokenClaims> claims = signer.Verifier().Verify(
      signer.SignPayload(
          R"({"userId":"u","tenants":[{"id":"t","role":"superuser"}],)"
          R"("ledgers":[{"id":"l","right":"admin"}],"selected":{"appId":"a"},"future":[1,2]})"),
      WriteTokenIssued());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->ledgers[0].role, "");
  EXPECT_FALSE(claims->CanWrite("l")) << "an unknown right is read-only (fails closed)";
  EXPECT_EQ(claims->selected_ledger, "");
}

// Only the exact right "write" grants writes; every other value, however close, is read-only.
TEST(TokenClaimsTest, OnlyTheExactRightWriteGrantsWrites) {
  struct Case {
    std::string right;
    bool can_write;
  };
  const std::vector<Case> cases = {
      {"write", true},     {"read", false},  {"READ", false},  {"", false},
      {"readonly", false}, {"WRITE", false}, {"Write", false}, {"write ", false},
      {"admin", false},    {"owner", false}, {"rw", false},    {"readwrite", false},
  };
  for (const Case& c : cases) {
    TokenClaims claims;
    claims.user_id = "u";
    claims.tenants = {"t"};
    claims.ledgers = {{"l", c.right, "admin"}};
    EXPECT_EQ(claims.CanWrite("l"), c.can_write) << "right \"" << c.right << "\"";
    EXPECT_TRUE(claims.AllowsLedger({"t", "l"})) << "any listed right still reads";
  }
  TokenClaims mixed;
  mixed.user_id = "u";
  mixed.tenants = {"t"};
  mixed.ledgers = {{"l", "write", ""}, {"l", "readonly", ""}};
  EXPECT_FALSE(mixed.CanWrite("l")) << "one read-only entry for the ledger makes it read-only";
}

// ---- Public keys ----

TEST(TokenVerifierCreateTest, MalformedPublicKeysAreInvalidArgument) {
  const std::string jwk = kRuntimePublicJwk;
  const std::string x = "rMQpBXPrHw58MCLgGu0DcNr-PMhrxtM_VIjEsHVA2WI";
  const std::string y = "Fqkcla5hrNi7fwoh7n1v4ZA-htkWeO8reaUBaMNawW0";
  auto with = [&](absl::string_view from, absl::string_view to) {
    return absl::StrReplaceAll(jwk, {{from, to}});
  };
  struct Case {
    std::string key;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "public key is empty"},
      {" \n\t", "public key is empty"},
      {"not a key", "public key is not in a recognized form"},
      {"z0OIl", "public key starts with 'z' but the rest is not base58btc"},
      {"zzzzzzzz", "is not a JSON object"},
      {std::string(kRuntimePublicKey).substr(0, 60), "is not a JSON object"},
      {"{", "public key (JWK JSON) is not a JSON object"},
      {"{}", "\"kty\" is not \"EC\""},
      {with(R"("kty":"EC")", R"("kty":"RSA")"), "\"kty\" is not \"EC\""},
      {with(R"("kty":"EC")", R"("kty":"OKP")"), "\"kty\" is not \"EC\""},
      {with("P-256", "P-384"), "\"crv\" is not \"P-256\""},
      {with("P-256", "secp256k1"), "\"crv\" is not \"P-256\""},
      {with(R"("x":)", R"("z":)"), "public key JWK has no \"x\" string"},
      {with(R"("y":)", R"("alg":"ES256","w":)"), "public key JWK has no \"y\" string"},
      {with(x, x.substr(0, 42)), "\"x\" is not base64url"},
      {with(x, x + "A"), "\"x\" is 33 bytes; a P-256 coordinate is 32"},
      {with(y, absl::StrReplaceAll(y, {{"-", "+"}})), "\"y\" is not base64url"},
      {with(y, "G" + y.substr(1)), "not a point on the P-256 curve"},
      {with(y, std::string(43, 'A')), "not a point on the P-256 curve"},
      {with(R"("kty")", R"("alg":"RS256","kty")"), "\"alg\" is not \"ES256\""},
      {with(R"("kty")", R"("d":"AAAA","kty")"), "is a PRIVATE key"},
      {absl::StrCat(R"({"keys":[)", jwk, ",", jwk, "]}"), "exactly one JWK"},
      {R"({"keys":[]})", "exactly one JWK"},
      {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
       "PEM block does not hold a valid SubjectPublicKeyInfo"},
      {"-----BEGIN PUBLIC KEY-----\n", "exactly one"},
      {absl::StrCat(kRuntimePublicPem, kRuntimePublicPem), "exactly one"},
      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "exactly one"},
      {std::string(kMaxPublicKeySize + 1, '{'), "at most 16384 are accepted"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenVerifier> verifier = TokenVerifier::Create(c.key);
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument) << c.key;
    EXPECT_THAT(verifier.status().message(), HasSubstr(c.message)) << c.key;
  }
}

TEST(TokenVerifierCreateTest, PrivateAndNonP256PemKeysAreInvalidArgument) {
  struct Case {
    const char* what;
    EvpPkeyPtr key;
    bool private_key;
    std::string message;
  };
  const Case cases[] = {
      {"P-256 private key", EvpPkeyPtr(EVP_EC_gen("P-256")), true, "PRIVATE key"},
      {"P-384 public key", EvpPkeyPtr(EVP_EC_gen("P-384")), false, "P-256"},
      {"Ed25519 public key", EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")), false,
       "not an EC key"},
  };
  for (const Case& c : cases) {
    ASSERT_NE(c.key, nullptr) << c.what;
    absl::StatusOr<TokenVerifier> verifier =
        TokenVerifier::Create(PemOf(c.key.get(), c.private_key));
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(verifier.status().message(), HasSubstr(c.message)) << c.what;
  }
}

TEST(TokenVerifierCreateTest, NegativeClockSkewIsInvalidArgument) {
  TokenVerifierOptions options;
  options.clock_skew = absl::Seconds(-1);
  EXPECT_EQ(TokenVerifier::Create(kRuntimePublicKey, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Claims helpers ----

TEST(TokenClaimsTest, AllowsLedgerNeedsTenantAndLedgerListed) {
  TokenClaims claims;
  claims.tenants = {"t1", "t2"};
  claims.ledgers = {{"l1", "write", "admin"}, {"l2", "read", "member"}};
  EXPECT_TRUE(claims.AllowsLedger({"t1", "l1"}));
  EXPECT_TRUE(claims.AllowsLedger({"t2", "l2"}));
  EXPECT_TRUE(claims.AllowsLedger({"t2", "l1"}));
  EXPECT_FALSE(claims.AllowsLedger({"t3", "l1"}));
  EXPECT_FALSE(claims.AllowsLedger({"t1", "l3"}));
  EXPECT_FALSE(claims.AllowsLedger({"", "l1"}));
  EXPECT_FALSE(claims.AllowsLedger({"t1", ""}));
  EXPECT_FALSE(claims.AllowsLedger({"T1", "l1"}));  // Ids are case-sensitive.
  TokenClaims empty_ids;
  empty_ids.tenants = {""};
  empty_ids.ledgers = {{"", "write", ""}};
  EXPECT_FALSE(empty_ids.AllowsLedger({"", ""}));
  EXPECT_FALSE(TokenClaims().AllowsLedger({"t1", "l1"}));
}

TEST(TokenClaimsTest, ASelectedLedgerIsGrantedWithEmptyLists) {
  // The shape Fireproof's dashboard mints (ensureCloudToken): no tenants, no ledgers, selected.
  TokenClaims claims;
  claims.selected_tenant = "t1";
  claims.selected_ledger = "l1";
  EXPECT_TRUE(claims.AllowsLedger({"t1", "l1"}));
  EXPECT_TRUE(claims.CanWrite("l1"));
  EXPECT_FALSE(claims.AllowsLedger({"t1", "l2"}));
  EXPECT_FALSE(claims.AllowsLedger({"t2", "l1"}));
  EXPECT_FALSE(claims.CanWrite("l2"));
  // With lists, the lists decide: a selected ledger listed read-only stays read-only, and one not
  // listed is not granted.
  claims.tenants = {"t1"};
  claims.ledgers = {{"l1", "read", "member"}};
  EXPECT_TRUE(claims.AllowsLedger({"t1", "l1"}));
  EXPECT_FALSE(claims.CanWrite("l1"));
  claims.ledgers = {{"l0", "write", "admin"}};
  EXPECT_FALSE(claims.AllowsLedger({"t1", "l1"}));
  EXPECT_FALSE(claims.CanWrite("l1"));
}

TEST(TokenClaimsTest, CanWriteNeedsTheLedgerListedWithoutReadRight) {
  TokenClaims claims;
  claims.ledgers = {{"l1", "write", "admin"},
                    {"l2", "read", "member"},
                    {"l3", "write", "admin"},
                    {"l3", "read", "member"}};
  EXPECT_TRUE(claims.CanWrite("l1"));
  EXPECT_FALSE(claims.CanWrite("l2"));
  EXPECT_FALSE(claims.CanWrite("l3"));  // Listed twice, once read-only: read-only wins.
  EXPECT_FALSE(claims.CanWrite("l4"));
  EXPECT_FALSE(claims.CanWrite(""));
}

// ---- Concurrency and garbage ----

TEST(TokenVerifierTest, ConcurrentVerifyCallsShareOneVerifier) {
  const TokenVerifier verifier = RuntimeVerifier();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&verifier, &ok, t] {
      for (int i = 0; i < 200; ++i) {
        if (verifier.Verify(i % 2 ? kWriteToken : kReadToken, WriteTokenIssued()).ok() &&
            !verifier.Verify(kOtherKeyToken, WriteTokenIssued()).ok()) {
          ++ok[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok, std::vector<int>(4, 200));
}

// Overwrites with a character that matters in this text.
void Mutate(std::mt19937& rng, std::string& input, absl::string_view alphabet) {
  kiln::testing::Mutate(rng, input,
                        [alphabet](std::mt19937& r) { return alphabet[r() % alphabet.size()]; });
}

TEST(TokenVerifierTest, MutatedTokensAndSignedGarbageClaimsNeverCrash) {
  const uint32_t seed = kiln::testing::FuzzSeed();
  LOG(INFO) << "TokenVerifierTest fuzz seed " << seed << " (rerun with KILN_FUZZ_SEED=" << seed
            << ")";
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const absl::Time now = WriteTokenIssued();

  // Mutated token text. Decoding is strict, so each byte string has one text form, and any
  // change to the text must fail; only mutations that cancel out leave a token that verifies.
  const TokenVerifier verifier = RuntimeVerifier();
  const std::vector<std::string> tokens = {kWriteToken,   kReadToken,  kExpiredToken,
                                           kAlgNoneToken, kHs256Token, kOtherKeyToken};
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::string& original = tokens[rng() % tokens.size()];
    std::string token = original;
    Mutate(rng, token, "._-+/=AZaz09\"{}");
    absl::StatusOr<TokenClaims> claims = verifier.Verify(token, now);
    if (claims.ok()) {
      ++accepted;
      ASSERT_EQ(token, original);
    } else {
      ASSERT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
    }
  }
  LOG(INFO) << "accepted " << accepted << " of 20000 mutated tokens";

  // Mutated claims JSON that carries a valid signature: exercises the claims parser.
  const TestSigner signer;
  const TokenVerifier signer_verifier = signer.Verifier();
  const std::vector<std::string> payloads = {
      Base64UrlDecodeForTest(Parts(kWriteToken)[1]),
      Base64UrlDecodeForTest(Parts(kReadToken)[1]),
      Base64UrlDecodeForTest(Parts(kNotYetValidToken)[1]),
      kMinimalClaims,
  };
  int parsed = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string payload = payloads[rng() % payloads.size()];
    Mutate(rng, payload, "{}[]\",:0123456789e.-tfn\\");
    absl::StatusOr<TokenClaims> claims = signer_verifier.Verify(signer.SignPayload(payload), now);
    if (claims.ok()) {
      ++parsed;
      ASSERT_FALSE(claims->user_id.empty()) << payload;
    } else {
      ASSERT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << payload;
    }
  }
  LOG(INFO) << "accepted " << parsed << " of 4000 mutated signed claims";
}

}  // namespace
}  // namespace kiln
