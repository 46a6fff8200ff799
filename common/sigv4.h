// AWS Signature Version 4 (SigV4) request signing on OpenSSL: the canonical request, the string
// to sign, the derived signing key, and both ways of carrying the signature (an Authorization
// header, or query parameters for a presigned URL). Used for S3-compatible object stores; the
// S3 flavour is what this implements (paths are URI-encoded once and not normalized).
//
// Hand-written because Debian 12 packages no SigV4 signer for C++ (no aws-sdk-cpp; libs3 is
// SigV2-era; curl 7.88's CURLOPT_AWS_SIGV4 mis-signs some S3 requests). Pure functions:
// thread-safe. Tested against AWS's published SigV4 test suite and the S3 documentation examples
// (tests/common/sigv4_test.cc). Never log credentials or signing keys.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kiln {

// Credentials of one access key. `session_token` is empty for long-term keys.
struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// The scope a signature is valid for, e.g. {"us-east-1", "s3"}.
struct SigV4Scope {
  std::string region;
  std::string service;
};

// The parts of an HTTP request that SigV4 covers.
struct SigV4Request {
  std::string method;  // e.g. "GET"
  // The path as sent on the wire, already URI-encoded (see UriEncodePath), e.g. "/bucket/a%20b".
  std::string encoded_path;
  // Query parameters, decoded (they are encoded while signing); order does not matter.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign, any case; repeated names are joined with commas in order. Must include
  // "host" (and, for S3 header signing, "x-amz-content-sha256").
  std::vector<std::pair<std::string, std::string>> headers;
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_sha256;
};

// The hex SHA-256 of an empty body.
inline constexpr absl::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr absl::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
// every other byte becomes %XX with upper-case hex; '/' stays when `keep_slash`.
std::string SigV4UriEncode(absl::string_view s, bool keep_slash);

// "/" + the object path encoded with SigV4UriEncode(keep_slash=true).
std::string UriEncodePath(absl::string_view path);

// The canonical query string: each name and value encoded, sorted by name then value, joined
// with '&'.
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);

// The canonical request; sets `*signed_headers` to the ';'-joined lower-case header names.
std::string CanonicalRequest(const SigV4Request& request, std::string* signed_headers);

// "20150830T123600Z" for `time`.
std::string AmzDate(absl::Time time);

// The string to sign for `canonical_request` at `time` in `scope`.
std::string StringToSign(absl::Time time, const SigV4Scope& scope,
                         absl::string_view canonical_request);

// The derived signing key (raw 32 bytes) for the day of `time`.
std::string SigningKey(absl::string_view secret_access_key, absl::Time time,
                       const SigV4Scope& scope);

// Lower-case hex HMAC-SHA256 of `string_to_sign` under `signing_key`.
std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign);

// Header signing: the value of the Authorization header for `request` at `time`. The request's
// headers must already carry x-amz-date (= AmzDate(time)) and, with a session token,
// x-amz-security-token.
std::string AuthorizationHeader(const SigV4Request& request, const SigV4Credentials& credentials,
                                const SigV4Scope& scope, absl::Time time);

// Query signing (presigned URL): returns the full query string to append after '?', made of
// `request.query` plus the X-Amz-* parameters and X-Amz-Signature. `request.headers` must hold
// "host" (normally the only signed header); payload_sha256 is normally kUnsignedPayload.
std::string PresignedQuery(SigV4Request request, const SigV4Credentials& credentials,
                           const SigV4Scope& scope, absl::Time time, absl::Duration expires);

}  // namespace kiln
