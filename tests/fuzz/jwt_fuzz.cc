// Fuzz target: ES256 token verification and public key parsing (common/jwt.h). The first byte
// picks the entry point:
//   0: TokenVerifier::Create on the rest (JWK, JWKS, "z" base58btc, base64, PEM key text);
//   1: Verify of the rest as a token, against the Fireproof runtime key the committed real tokens
//      are signed with, at their issue time (so unmutated seeds verify);
//   2: the rest is "<header JSON>\n<payload JSON>" (or the payload alone with {"alg":"ES256"}):
//      the target signs it with its own P-256 key and verifies, so mutations reach the header,
//      time and claims checks that only run on signed tokens.
// Properties: no crash; Create fails only with INVALID_ARGUMENT and Verify only with
// UNAUTHENTICATED; a verified token has a non-empty userId.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/jwt.h"
#include "common/openssl_ptr.h"
#include "tests/fuzz/fireproof_runtime_key.h"
#include "tests/fuzz/fuzz_check.h"

namespace kiln::fuzz {
namespace {

// A P-256 key pair made at start-up that signs whatever the fuzzer writes.
class Signer {
 public:
  Signer() : key_(EVP_EC_gen("P-256")) { FUZZ_CHECK(key_ != nullptr); }

  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    FUZZ_CHECK(bio != nullptr && PEM_write_bio_PUBKEY(bio, key_.get()) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    return pem;
  }

  // base64url(header).base64url(payload).base64url(r || s), as a JOSE ES256 signer writes it.
  std::string Sign(absl::string_view header, absl::string_view payload) const {
    const std::string input =
        absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(payload));
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    FUZZ_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1);
    unsigned char der[128];
    size_t der_size = sizeof(der);
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    FUZZ_CHECK(EVP_DigestSign(ctx.get(), der, &der_size, in, input.size()) == 1);
    const unsigned char* der_in = der;
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &der_in, static_cast<long>(der_size)));
    FUZZ_CHECK(sig != nullptr);
    unsigned char raw[64];
    FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32) == 32);
    FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32) == 32);
    return absl::StrCat(input, ".",
                        absl::WebSafeBase64Escape(
                            absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw))));
  }

 private:
  EvpPkeyPtr key_;
};

struct State {
  Signer signer;
  TokenVerifier runtime = *TokenVerifier::Create(kRuntimePublicKey);
  TokenVerifier own = *TokenVerifier::Create(signer.PublicPem());
  absl::Time now = absl::FromUnixSeconds(kRuntimeTokensIssued);
};

State& GetState() {
  static State* state = new State();
  return *state;
}

void CheckVerified(const absl::StatusOr<TokenClaims>& claims) {
  if (claims.ok()) {
    FUZZ_CHECK(!claims->user_id.empty());
  } else {
    FUZZ_CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
  }
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::fuzz::GetState();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kiln::fuzz::GetState;
  absl::string_view input = kiln::fuzz::AsText(data, size);
  switch (kiln::fuzz::TakeSelector(&input) % 3) {
    case 0: {
      absl::StatusOr<kiln::TokenVerifier> verifier = kiln::TokenVerifier::Create(input);
      if (!verifier.ok()) {
        FUZZ_CHECK(verifier.status().code() == absl::StatusCode::kInvalidArgument);
      }
      break;
    }
    case 1:
      kiln::fuzz::CheckVerified(GetState().runtime.Verify(input, GetState().now));
      break;
    default: {
      absl::string_view header = R"({"alg":"ES256"})", payload = input;
      const size_t newline = input.find('\n');
      if (newline != absl::string_view::npos) {
        header = input.substr(0, newline);
        payload = input.substr(newline + 1);
      }
      const std::string token = GetState().signer.Sign(header, payload);
      kiln::fuzz::CheckVerified(GetState().own.Verify(token, GetState().now));
      break;
    }
  }
  return 0;
}
