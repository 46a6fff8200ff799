// The public key of the Fireproof runtime key pair (@fireproof/core-runtime 0.24.19,
// SessionTokenService.generateKeyPair("ES256")) that signed the real tokens in
// tests/common/jwt_test.cc and in the jwt and protocol fuzz corpora, and when those tokens were
// issued. Fuzz targets verify at that time, so unmutated seed tokens pass and reach the code after
// the signature check.
#pragma once

#include <cstdint>

namespace kiln::fuzz {

// kp.strings.publicKey: "z" + base58btc of the JWK JSON.
inline constexpr char kRuntimePublicKey[] =
    "zeWndr5LEoaySgKSo2aZniYqcCp94BLekrLTmdWjmzM8rAGVUmkafCxCzDwiL6mWpdbyzBZKezw1PMsbnCbcvLR7ok2FVH"
    "3xhdVLo2ohJnUKD2gdzmuGmFBnabXkDL9z8HE52W3KKjs5hVgPBLG7wDzguoFAuXzRQzbb5YHD67kmz";
// The tokens' "iat", in seconds.
inline constexpr int64_t kRuntimeTokensIssued = 1795669836;

}  // namespace kiln::fuzz
