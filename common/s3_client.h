// A small client for the S3 REST API of one bucket (AWS S3, R2, GCS interoperability, Ceph RGW,
// SeaweedFS, Garage, MinIO, s3rver): signs each request with SigV4 (common/sigv4.h), sends it
// through the pooled libcurl HttpClient, and retries 5xx, 429 (throttling such as 503 SlowDown)
// and transport failures with exponential backoff before giving up with UNAVAILABLE. It also
// makes presigned URLs for objects.
//
// Thread-safe; calls block (network I/O and backoff sleeps): never call them on a gRPC reactor
// thread. Credentials are held in memory only and never logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/backend_url.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/sigv4.h"

namespace kiln {

// Where a bucket lives and how to address it.
struct S3Location {
  std::string endpoint;  // "http://127.0.0.1:9000" or "https://s3.us-east-1.amazonaws.com"
  std::string bucket;
  std::string region = "us-east-1";
  // true: http://endpoint/bucket/key; false: http://bucket.endpoint/key (virtual-hosted).
  bool path_style = true;
};

struct S3ClientOptions {
  S3Location location;
  SigV4Credentials credentials;
  HttpClientOptions http;
  // Attempts per request (1 = no retries) for retryable failures.
  int max_attempts = 4;
  // Backoff before the second attempt; doubles per attempt up to `max_backoff`, with jitter.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  // Time source for signatures; not owned, must outlive the client.
  Clock* clock = &RealClock::Get();
};

// One S3 request on an object (or on the bucket when `key` is empty).
struct S3Request {
  std::string method;
  std::string key;
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // signed, sent as given
  absl::string_view body;                                    // not owned
  // Lower-case hex SHA-256 of `body` when the caller has it already; computed when empty.
  std::string body_sha256;
  // Largest response body accepted (RESOURCE_EXHAUSTED beyond it, not retried); 0: no limit.
  uint64_t max_response_bytes = 0;
  // With a limit: a larger body is skipped rather than refused (see HttpRequest).
  bool skip_larger_body = false;
  // Not owned; takes a 2xx response's body as it arrives (see HttpBodySink). A request is not
  // retried once its sink was called (it may have passed bytes on).
  HttpBodySink* sink = nullptr;
};

class S3Client {
 public:
  explicit S3Client(S3ClientOptions options);

  // Sends `request`, retrying retryable failures. Returns the response for any status that is
  // not retryable (2xx, 3xx, 4xx other than 429): callers interpret those. UNAVAILABLE when the
  // store kept failing or could not be reached; INVALID_ARGUMENT for a malformed endpoint. With
  // a sink, a transfer that fails after the sink was called returns that failure at once.
  absl::StatusOr<HttpResponse> Send(const S3Request& request);

  // A presigned URL for `method` on `key`, valid for `expires` from now (at most 7 days), signed
  // for the host header only (UNSIGNED-PAYLOAD).
  std::string PresignedUrl(absl::string_view method, absl::string_view key,
                           absl::Duration expires) const;

  const S3Location& location() const { return options_.location; }

  // Counters since start, for metrics; shared so a scrape may outlive the client.
  struct Stats {
    std::atomic<uint64_t> requests{0};     // HTTP requests sent, retries included
    std::atomic<uint64_t> retries{0};      // attempts repeated after a retryable failure
    std::atomic<uint64_t> unavailable{0};  // requests given up with UNAVAILABLE
  };
  std::shared_ptr<const Stats> stats() const { return stats_; }

 private:
  // The encoded path of `key` and the URL prefix before it.
  std::string EncodedPath(absl::string_view key) const;
  std::string Url(const std::string& encoded_path, const std::string& query) const;
  absl::StatusOr<HttpResponse> SendOnce(const S3Request& request, const std::string& payload_sha256,
                                        HttpBodySink* sink);

  const S3ClientOptions options_;
  std::string scheme_;  // "http" or "https"
  std::string host_;    // the Host header value, with the bucket for virtual-hosted style
  HttpClient http_;
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();
};

// Parses an s3:// backend URL's location and transport parameters:
//   s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=true|false
// Credentials come from `credentials_file=PATH` (lines `AWS_ACCESS_KEY_ID=...`,
// `AWS_SECRET_ACCESS_KEY=...`, optional `AWS_SESSION_TOKEN=...`; `aws_access_key_id = ...` INI
// lines work too) or else from the environment variables of those names. Sets `*prefix` to PREFIX
// without slashes at either end. INVALID_ARGUMENT naming what is wrong (no secret is quoted).
absl::StatusOr<S3ClientOptions> S3ClientOptionsFromUrl(const BackendUrl& url, std::string* prefix);

// The S3 error code (<Code> of an error body, e.g. "NoSuchKey"), or "" when there is none.
std::string S3ErrorCode(absl::string_view body);

// A status for an S3 response that is not a success: PERMISSION_DENIED for 401/403,
// FAILED_PRECONDITION for a missing bucket, NOT_FOUND for 404, INTERNAL otherwise; the message
// names `what` and the S3 error code.
absl::Status S3ResponseStatus(const HttpResponse& response, absl::string_view what);

}  // namespace kiln
