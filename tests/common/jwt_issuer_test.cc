// Tokens minted by TokenIssuer verify with TokenVerifier (from the PEM, the JWK and a JWKS), carry
// "exp" in seconds, and key sets keep only usable keys.
#include "common/jwt_issuer.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/jwt.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TokenIssuer NewIssuer() { return *TokenIssuer::Create(*GenerateP256PrivateKeyPem()); }

TokenGrant Grant() {
  TokenGrant g;
  g.user_id = "u1";
  g.tenants = {"t1"};
  g.ledgers = {{"l1", "write"}, {"l2", "read"}};
  g.valid_for = absl::Minutes(10);
  return g;
}

TEST(TokenIssuerTest, TokensVerifyWithEveryPublishedFormOfTheKey) {
  TokenIssuer issuer = NewIssuer();
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::string token = *issuer.Issue(Grant(), now);
  for (const std::string& key : {issuer.public_pem(), issuer.public_jwk(),
                                 absl::StrCat("{\"keys\":[", issuer.public_jwk(), "]}")}) {
    auto verifier = TokenVerifier::Create(key);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    auto claims = verifier->Verify(token, now + absl::Minutes(1));
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->expires, now + absl::Minutes(10));  // seconds, not milliseconds
    EXPECT_TRUE(claims->CanWrite("l1"));
    EXPECT_FALSE(claims->CanWrite("l2"));
    EXPECT_EQ(claims->selected_ledger, "l1");
  }
}

TEST(TokenIssuerTest, BadGrantsAreInvalidArgument) {
  TokenIssuer issuer = NewIssuer();
  TokenGrant g = Grant();
  g.ledgers[0].right = "owner";
  EXPECT_EQ(issuer.Issue(g, absl::Now()).status().code(), absl::StatusCode::kInvalidArgument);
  g = Grant();
  g.selected_ledger = "elsewhere";
  EXPECT_EQ(issuer.Issue(g, absl::Now()).status().code(), absl::StatusCode::kInvalidArgument);
  g = Grant();
  g.valid_for = absl::ZeroDuration();
  EXPECT_EQ(issuer.Issue(g, absl::Now()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenIssuer::Create(issuer.public_pem()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JwksVerifierTest, EveryUsableKeyOfASetIsTrustedAndOthersAreSkipped) {
  TokenIssuer a = NewIssuer(), b = NewIssuer(), outsider = NewIssuer();
  std::string jwks = absl::StrCat(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},)",
                                  a.public_jwk(), ",", b.public_jwk(), "]}");
  auto verifier = TokenVerifier::CreateFromJwks(jwks);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  absl::Time now = absl::Now();
  EXPECT_TRUE(verifier->Verify(*a.Issue(Grant(), now), now).ok());
  EXPECT_TRUE(verifier->Verify(*b.Issue(Grant(), now), now).ok());
  EXPECT_EQ(verifier->Verify(*outsider.Issue(Grant(), now), now).status().code(),
            absl::StatusCode::kUnauthenticated);

  EXPECT_EQ(TokenVerifier::CreateFromJwks(R"({"keys":[]})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenVerifier::CreateFromJwks("[]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenVerifier::CreateFromJwks(R"({"keys":[{"kty":"EC","d":"x"}]})").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
