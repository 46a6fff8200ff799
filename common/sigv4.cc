#include "common/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "glog/logging.h"

namespace kiln {
namespace {

constexpr absl::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC only fails on allocation failure; that is not recoverable here.
  CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
             &len) != nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HexSha256(absl::string_view data) {
  Sha256Digest d = Sha256(data);
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string DateStamp(absl::Time time) {
  return absl::FormatTime("%Y%m%d", time, absl::UTCTimeZone());
}

std::string CredentialScope(absl::Time time, const SigV4Scope& scope) {
  return absl::StrCat(DateStamp(time), "/", scope.region, "/", scope.service, "/aws4_request");
}

// Trims the value and collapses runs of spaces into one, as SigV4 canonical headers require.
std::string CanonicalHeaderValue(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  std::string out;
  out.reserve(value.size());
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string SigV4UriEncode(absl::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string UriEncodePath(absl::string_view path) {
  return absl::StrCat("/", SigV4UriEncode(path, /*keep_slash=*/true));
}

std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(SigV4UriEncode(name, false), SigV4UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  return absl::StrJoin(encoded, "&", [](std::string* out, const auto& p) {
    absl::StrAppend(out, p.first, "=", p.second);
  });
}

std::string CanonicalRequest(const SigV4Request& request, std::string* signed_headers) {
  // Sorted by lower-case name; repeated names keep their values in order.
  std::map<std::string, std::vector<std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    headers[absl::AsciiStrToLower(name)].push_back(CanonicalHeaderValue(value));
  }
  std::string canonical_headers;
  std::vector<std::string> names;
  for (const auto& [name, values] : headers) {
    absl::StrAppend(&canonical_headers, name, ":", absl::StrJoin(values, ","), "\n");
    names.push_back(name);
  }
  *signed_headers = absl::StrJoin(names, ";");
  return absl::StrCat(request.method, "\n", request.encoded_path, "\n",
                      CanonicalQueryString(request.query), "\n", canonical_headers, "\n",
                      *signed_headers, "\n", request.payload_sha256);
}

std::string AmzDate(absl::Time time) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", time, absl::UTCTimeZone());
}

std::string StringToSign(absl::Time time, const SigV4Scope& scope,
                         absl::string_view canonical_request) {
  return absl::StrCat(kAlgorithm, "\n", AmzDate(time), "\n", CredentialScope(time, scope), "\n",
                      HexSha256(canonical_request));
}

std::string SigningKey(absl::string_view secret_access_key, absl::Time time,
                       const SigV4Scope& scope) {
  std::string k_date = HmacSha256(absl::StrCat("AWS4", secret_access_key), DateStamp(time));
  std::string k_region = HmacSha256(k_date, scope.region);
  std::string k_service = HmacSha256(k_region, scope.service);
  return HmacSha256(k_service, "aws4_request");
}

std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign) {
  return HexEncode(HmacSha256(signing_key, string_to_sign));
}

std::string AuthorizationHeader(const SigV4Request& request, const SigV4Credentials& credentials,
                                const SigV4Scope& scope, absl::Time time) {
  std::string signed_headers;
  std::string canonical = CanonicalRequest(request, &signed_headers);
  std::string signature = Signature(SigningKey(credentials.secret_access_key, time, scope),
                                    StringToSign(time, scope, canonical));
  return absl::StrCat(kAlgorithm, " Credential=", credentials.access_key_id, "/",
                      CredentialScope(time, scope), ", SignedHeaders=", signed_headers,
                      ", Signature=", signature);
}

std::string PresignedQuery(SigV4Request request, const SigV4Credentials& credentials,
                           const SigV4Scope& scope, absl::Time time, absl::Duration expires) {
  std::vector<std::string> names;
  for (const auto& [name, unused] : request.headers) names.push_back(absl::AsciiStrToLower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  request.query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  request.query.emplace_back("X-Amz-Credential", absl::StrCat(credentials.access_key_id, "/",
                                                              CredentialScope(time, scope)));
  request.query.emplace_back("X-Amz-Date", AmzDate(time));
  request.query.emplace_back("X-Amz-Expires", absl::StrCat(absl::ToInt64Seconds(expires)));
  if (!credentials.session_token.empty()) {
    request.query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  request.query.emplace_back("X-Amz-SignedHeaders", absl::StrJoin(names, ";"));
  std::string signed_headers;
  std::string canonical = CanonicalRequest(request, &signed_headers);
  std::string signature = Signature(SigningKey(credentials.secret_access_key, time, scope),
                                    StringToSign(time, scope, canonical));
  request.query.emplace_back("X-Amz-Signature", signature);
  return CanonicalQueryString(request.query);
}

}  // namespace kiln
