#include "common/sha256.h"

#include <openssl/evp.h>

#include "glog/logging.h"

namespace kiln {

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* md;
};

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest out;
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; that is not recoverable here.
  CHECK_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

Sha256Hasher::Sha256Hasher() : ctx_(new Ctx{EVP_MD_CTX_new()}) {
  CHECK(ctx_->md != nullptr);
  CHECK_EQ(EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr), 1);
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
}

void Sha256Hasher::Update(absl::string_view data) {
  CHECK_EQ(EVP_DigestUpdate(ctx_->md, data.data(), data.size()), 1);
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest out;
  unsigned int len = 0;
  CHECK_EQ(EVP_DigestFinal_ex(ctx_->md, out.data(), &len), 1);
  return out;
}

std::string HexEncode(absl::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace kiln
