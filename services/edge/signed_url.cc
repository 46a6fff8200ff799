#include "services/edge/signed_url.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/url/parse.hpp"
#include "boost/url/url.hpp"
#include "common/flag_file.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace kiln::edge {
namespace {

std::string Encode(absl::string_view segment) {
  // Percent-encode everything but unreserved characters (RFC 3986).
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

UrlSigner::UrlSigner(std::string secret, std::string public_base,
                     std::vector<std::string> previous_secrets)
    : secret_(std::move(secret)),
      previous_secrets_(std::move(previous_secrets)),
      public_base_(std::move(public_base)) {
  while (!public_base_.empty() && public_base_.back() == '/') public_base_.pop_back();
}

void UrlSigner::SetPublicBase(std::string public_base) {
  public_base_ = std::move(public_base);
  while (!public_base_.empty() && public_base_.back() == '/') public_base_.pop_back();
}

std::string UrlSigner::Mac(const std::string& secret, absl::string_view method,
                           const BlobAddress& blob, int64_t exp) {
  std::string msg = absl::StrCat(method, "\n", blob.ledger.tenant(), "\n", blob.ledger.ledger(),
                                 "\n", StoreKindName(blob.store), "\n", blob.key, "\n", exp);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(out), len));
}

std::string UrlSigner::Sign(absl::string_view method, const BlobAddress& blob,
                            absl::Time expires) const {
  int64_t exp = absl::ToUnixSeconds(expires);
  return absl::StrCat(public_base_, "/blob/", Encode(blob.ledger.tenant()), "/",
                      Encode(blob.ledger.ledger()), "/", StoreKindName(blob.store), "/",
                      Encode(blob.key), "?exp=", exp, "&sig=", Mac(secret_, method, blob, exp));
}

absl::StatusOr<BlobAddress> UrlSigner::Verify(absl::string_view method, absl::string_view target,
                                              absl::Time now) const {
  auto parsed =
      boost::urls::parse_origin_form(boost::core::string_view(target.data(), target.size()));
  if (!parsed) return absl::InvalidArgumentError("not a blob URL");
  boost::urls::url u = *parsed;
  std::vector<std::string> segments;
  for (auto seg : u.segments()) segments.push_back(std::string(seg));
  // The public base may carry a path prefix that a proxy strips; match on the last 5 segments.
  if (segments.size() < 5 || segments[segments.size() - 5] != "blob") {
    return absl::InvalidArgumentError(
        "not a blob URL (expected /blob/<tenant>/<ledger>/<store>/<key>)");
  }
  size_t n = segments.size();
  // No URL is signed for a store name outside StoreKind, so such a URL matches no signature.
  std::optional<StoreKind> store = StoreKindFromName(segments[n - 2]);
  BlobAddress blob{LedgerRef(segments[n - 4], segments[n - 3]), store.value_or(StoreKind::kCar),
                   segments[n - 1]};
  std::string exp_text, sig;
  for (auto p : u.params()) {
    if (p.key == "exp") exp_text = std::string(p.value);
    if (p.key == "sig") sig = std::string(p.value);
  }
  int64_t exp = 0;
  if (sig.empty() || !absl::SimpleAtoi(exp_text, &exp)) {
    return absl::PermissionDeniedError("blob URL is not signed");
  }
  std::string check_method(method == "HEAD" ? "GET" : method);
  auto matches = [&](const std::string& secret) {
    std::string want = Mac(secret, check_method, blob, exp);
    return want.size() == sig.size() && CRYPTO_memcmp(want.data(), sig.data(), want.size()) == 0;
  };
  bool valid = store.has_value() && matches(secret_);
  for (size_t i = 0; store.has_value() && !valid && i < previous_secrets_.size(); ++i) {
    valid = matches(previous_secrets_[i]);
  }
  if (!valid) {
    return absl::PermissionDeniedError(
        "blob URL signature does not match (tampered, or signed "
        "for another method)");
  }
  if (absl::FromUnixSeconds(exp) < now) {
    return absl::PermissionDeniedError("blob URL has expired; ask for a new one");
  }
  return blob;
}

absl::StatusOr<UrlSigningKeys> LoadUrlSigningKeys(const std::string& key_file,
                                                  const std::vector<std::string>& previous_files) {
  UrlSigningKeys keys;
  if (!key_file.empty()) {
    KILN_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(key_file, "signing key file"));
    keys.current = std::string(absl::StripAsciiWhitespace(text));
    if (keys.current.size() < 32) {
      return absl::InvalidArgumentError("the URL signing key must be at least 32 bytes");
    }
  } else {
    keys.current.resize(32);
    keys.random = true;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(keys.current.data()), 32) != 1) {
      return absl::InternalError(
          "cannot draw a random URL signing key (OpenSSL RAND_bytes failed)");
    }
  }
  for (const std::string& file : previous_files) {
    KILN_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(file, "previous signing key file"));
    std::string key(absl::StripAsciiWhitespace(text));
    if (key.size() < 32) {
      return absl::InvalidArgumentError(
          absl::StrCat("previous URL signing key ", file, " is shorter than 32 bytes"));
    }
    keys.previous.push_back(std::move(key));
  }
  return keys;
}

}  // namespace kiln::edge
