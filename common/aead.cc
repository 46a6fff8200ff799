#include "common/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "common/openssl_ptr.h"
#include "glog/logging.h"

namespace kiln {
namespace {

constexpr int kIvBytes = 12;
constexpr int kTagBytes = 16;

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<KeySealer> KeySealer::Create(absl::string_view kek,
                                            std::vector<std::string> previous_keks) {
  if (kek.size() != 32) {
    return absl::InvalidArgumentError("key-encryption key must be 32 bytes (AES-256)");
  }
  for (const std::string& k : previous_keks) {
    if (k.size() != 32) {
      return absl::InvalidArgumentError("previous key-encryption keys must be 32 bytes (AES-256)");
    }
  }
  return KeySealer(std::string(kek), std::move(previous_keks));
}

absl::StatusOr<std::string> KeySealer::Seal(absl::string_view plaintext,
                                            absl::string_view aad) const {
  std::string out(kIvBytes + plaintext.size() + kTagBytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(buf, kIvBytes) != 1) {
    return absl::UnavailableError("cannot draw a random IV to seal a key (RAND_bytes failed)");
  }
  // The calls below fail only on a broken build of OpenSSL (the key and IV sizes are fixed).
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CHECK(ctx != nullptr);
  int len = 0;
  CHECK_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(kek_), buf), 1);
  CHECK_EQ(EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())), 1);
  CHECK_EQ(EVP_EncryptUpdate(ctx.get(), buf + kIvBytes, &len, U(plaintext),
                             static_cast<int>(plaintext.size())),
           1);
  CHECK_EQ(EVP_EncryptFinal_ex(ctx.get(), buf + kIvBytes + len, &len), 1);
  CHECK_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                               buf + kIvBytes + plaintext.size()),
           1);
  return out;
}

absl::StatusOr<std::string> KeySealer::Open(absl::string_view sealed, absl::string_view aad,
                                            bool* under_previous) const {
  if (under_previous != nullptr) *under_previous = false;
  absl::StatusOr<std::string> out = OpenWith(kek_, sealed, aad);
  for (size_t i = 0;
       !out.ok() && out.status().code() == absl::StatusCode::kDataLoss && i < previous_.size();
       ++i) {
    absl::StatusOr<std::string> old = OpenWith(previous_[i], sealed, aad);
    if (old.ok()) {
      if (under_previous != nullptr) *under_previous = true;
      out = std::move(old);
    }
  }
  return out;
}

absl::StatusOr<std::string> KeySealer::OpenWith(const std::string& kek, absl::string_view sealed,
                                                absl::string_view aad) {
  if (sealed.size() < kIvBytes + kTagBytes) {
    return absl::DataLossError("sealed key is truncated");
  }
  size_t n = sealed.size() - kIvBytes - kTagBytes;
  std::string out(n, '\0');
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CHECK(ctx != nullptr);
  int len = 0;
  bool ok =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(kek), U(sealed)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        U(sealed) + kIvBytes, static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          const_cast<unsigned char*>(U(sealed) + kIvBytes + n)) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    return absl::DataLossError(
        "sealed key failed authentication (altered, or sealed under another key-encryption key)");
  }
  return out;
}

absl::StatusOr<std::string> ParseKek(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  if (t.size() == 64) {
    bool hex = true;
    for (char c : t) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (hex) return absl::HexStringToBytes(t);
  }
  std::string raw;
  if (absl::Base64Unescape(t, &raw) && raw.size() == 32) return raw;
  return absl::InvalidArgumentError(
      "key-encryption key must be 32 bytes given as 64 hex characters or base64 "
      "(e.g. `openssl rand -hex 32`)");
}

}  // namespace kiln
