#include "common/s3_client.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "boost/property_tree/ptree.hpp"
#include "boost/property_tree/xml_parser.hpp"
#include "boost/url/parse.hpp"
#include "boost/url/url.hpp"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace kiln {
namespace {

bool Retryable(int status) { return status >= 500 || status == 429; }

// Passes a streamed body on and remembers whether any of the response reached the sink.
class TouchedSink : public HttpBodySink {
 public:
  explicit TouchedSink(HttpBodySink* inner) : inner_(inner) {}
  bool OnHeaders(const HttpResponse& response) override {
    touched_ = true;
    return inner_->OnHeaders(response);
  }
  bool OnBody(absl::string_view data) override { return inner_->OnBody(data); }
  bool touched() const { return touched_; }

 private:
  HttpBodySink* inner_;
  bool touched_ = false;
};

std::string HexDigest(absl::string_view data) {
  Sha256Digest d = Sha256(data);
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// Abseil's generator seeds itself without throwing (std::random_device may throw when it cannot
// read the OS's entropy source).
absl::Duration Jittered(absl::Duration d) {
  thread_local absl::BitGen gen;
  return d * absl::Uniform(gen, 0.5, 1.0);
}

// Reads `name` from a credentials file's `NAME=value` or `name = value` lines.
struct CredentialLines {
  absl::flat_hash_map<std::string, std::string> values;  // keys upper-cased
};

absl::StatusOr<CredentialLines> ReadCredentialsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("s3:// credentials_file ", path, " cannot be read"));
  }
  CredentialLines out;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == '[') continue;
    size_t eq = l.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(l.substr(0, eq)));
    out.values[name] = std::string(absl::StripAsciiWhitespace(l.substr(eq + 1)));
  }
  return out;
}

absl::StatusOr<SigV4Credentials> LoadCredentials(const BackendUrl& url) {
  SigV4Credentials creds;
  std::string file = url.Param("credentials_file", "");
  if (!file.empty()) {
    KILN_ASSIGN_OR_RETURN(CredentialLines lines, ReadCredentialsFile(file));
    creds.access_key_id = lines.values["AWS_ACCESS_KEY_ID"];
    creds.secret_access_key = lines.values["AWS_SECRET_ACCESS_KEY"];
    creds.session_token = lines.values["AWS_SESSION_TOKEN"];
    if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("s3:// credentials_file ", file,
                       " must set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (NAME=value lines)"));
    }
    return creds;
  }
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  creds.access_key_id = env("AWS_ACCESS_KEY_ID");
  creds.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
  creds.session_token = env("AWS_SESSION_TOKEN");
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        "s3:// backend needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
        "environment, or pass credentials_file=/path/to/file");
  }
  return creds;
}

}  // namespace

S3Client::S3Client(S3ClientOptions options) : options_(std::move(options)), http_(options_.http) {
  // The endpoint was validated by S3ClientOptionsFromUrl (or by the caller).
  auto parsed = boost::urls::parse_uri(options_.location.endpoint);
  if (parsed) {
    scheme_ = std::string(parsed->scheme());
    std::string authority(parsed->encoded_host_and_port());
    host_ = options_.location.path_style ? authority
                                         : absl::StrCat(options_.location.bucket, ".", authority);
  }
}

std::string S3Client::EncodedPath(absl::string_view key) const {
  if (options_.location.path_style) {
    return key.empty() ? UriEncodePath(options_.location.bucket)
                       : UriEncodePath(absl::StrCat(options_.location.bucket, "/", key));
  }
  return UriEncodePath(key);
}

std::string S3Client::Url(const std::string& encoded_path, const std::string& query) const {
  return absl::StrCat(scheme_, "://", host_, encoded_path, query.empty() ? "" : "?", query);
}

absl::StatusOr<HttpResponse> S3Client::SendOnce(const S3Request& request,
                                                const std::string& payload_sha256,
                                                HttpBodySink* sink) {
  const absl::Time now = options_.clock->Now();
  SigV4Request sign;
  sign.method = request.method;
  sign.encoded_path = EncodedPath(request.key);
  sign.query = request.query;
  sign.headers = request.headers;
  sign.headers.emplace_back("host", host_);
  sign.headers.emplace_back("x-amz-date", AmzDate(now));
  sign.headers.emplace_back("x-amz-content-sha256", payload_sha256);
  if (!options_.credentials.session_token.empty()) {
    sign.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
  }
  sign.payload_sha256 = payload_sha256;
  HttpRequest http;
  http.method = request.method;
  http.url = Url(sign.encoded_path, CanonicalQueryString(sign.query));
  http.headers = sign.headers;
  http.headers.emplace_back(
      "Authorization",
      AuthorizationHeader(sign, options_.credentials, {options_.location.region, "s3"}, now));
  http.body = request.body;
  http.max_response_bytes = request.max_response_bytes;
  http.skip_larger_body = request.skip_larger_body;
  http.sink = sink;
  stats_->requests.fetch_add(1);
  return http_.Send(http);
}

absl::StatusOr<HttpResponse> S3Client::Send(const S3Request& request) {
  if (scheme_.empty()) {
    return absl::InvalidArgumentError("s3 endpoint is not an http:// or https:// URL");
  }
  const std::string payload_sha256 =
      !request.body_sha256.empty() ? request.body_sha256 : HexDigest(request.body);
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    std::optional<TouchedSink> sink;
    if (request.sink != nullptr) sink.emplace(request.sink);
    absl::StatusOr<HttpResponse> response =
        SendOnce(request, payload_sha256, sink.has_value() ? &*sink : nullptr);
    if (response.ok() && !Retryable(response->status)) return response;
    // Bytes may have gone to the sink: the caller decides what a failure midway means.
    if (sink.has_value() && sink->touched()) return response;
    last =
        response.ok()
            ? absl::UnavailableError(absl::StrCat("object store answered HTTP ", response->status,
                                                  " ", S3ErrorCode(response->body)))
            : response.status();
    if (last.code() != absl::StatusCode::kUnavailable || attempt >= options_.max_attempts) break;
    stats_->retries.fetch_add(1);
    absl::SleepFor(Jittered(backoff));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  if (last.code() != absl::StatusCode::kUnavailable) return last;
  stats_->unavailable.fetch_add(1);
  return absl::UnavailableError(absl::StrCat("object store unavailable after ",
                                             options_.max_attempts, " attempts: ", last.message()));
}

std::string S3Client::PresignedUrl(absl::string_view method, absl::string_view key,
                                   absl::Duration expires) const {
  SigV4Request sign;
  sign.method = std::string(method);
  sign.encoded_path = EncodedPath(key);
  sign.headers.emplace_back("host", host_);
  sign.payload_sha256 = std::string(kUnsignedPayload);
  std::string query = PresignedQuery(sign, options_.credentials, {options_.location.region, "s3"},
                                     options_.clock->Now(), expires);
  return Url(sign.encoded_path, query);
}

absl::StatusOr<S3ClientOptions> S3ClientOptionsFromUrl(const BackendUrl& url, std::string* prefix) {
  S3ClientOptions options;
  if (url.host.empty()) {
    return absl::InvalidArgumentError(
        "s3:// backend URL needs a bucket: s3://bucket/prefix?endpoint=http://127.0.0.1:9000");
  }
  options.location.bucket = url.host;
  *prefix = std::string(absl::StripSuffix(absl::StripPrefix(url.path, "/"), "/"));
  options.location.region = url.Param("region", "us-east-1");
  std::string endpoint = url.Param("endpoint", "");
  KILN_ASSIGN_OR_RETURN(options.location.path_style,
                        url.BoolParam("path_style", !endpoint.empty()));
  if (endpoint.empty()) {
    endpoint = absl::StrCat("https://s3.", options.location.region, ".amazonaws.com");
  }
  auto parsed = boost::urls::parse_uri(endpoint);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->encoded_host().empty() || (!parsed->path().empty() && parsed->path() != "/") ||
      parsed->has_query()) {
    return absl::InvalidArgumentError(
        absl::StrCat("s3:// endpoint=", endpoint,
                     " must be http://host[:port] or https://host[:port] with no path"));
  }
  options.location.endpoint = std::string(absl::StripSuffix(endpoint, "/"));
  KILN_ASSIGN_OR_RETURN(uint64_t attempts, url.UintParam("max_attempts", 4));
  if (attempts < 1 || attempts > 20) {
    return absl::InvalidArgumentError("s3:// max_attempts must be between 1 and 20");
  }
  options.max_attempts = static_cast<int>(attempts);
  KILN_ASSIGN_OR_RETURN(uint64_t connections, url.UintParam("max_connections", 32));
  if (connections < 1) return absl::InvalidArgumentError("s3:// max_connections must be >= 1");
  options.http.max_connections = connections;
  KILN_ASSIGN_OR_RETURN(uint64_t connect_ms, url.UintParam("connect_timeout_ms", 5000));
  options.http.connect_timeout = absl::Milliseconds(connect_ms);
  KILN_ASSIGN_OR_RETURN(uint64_t stall_ms, url.UintParam("stall_timeout_ms", 15000));
  options.http.stall_timeout = absl::Milliseconds(stall_ms);
  KILN_ASSIGN_OR_RETURN(options.credentials, LoadCredentials(url));
  return options;
}

std::string S3ErrorCode(absl::string_view body) {
  if (body.empty() || !absl::StrContains(body, "<Error")) return "";
  try {
    std::istringstream in{std::string(body)};
    boost::property_tree::ptree tree;
    boost::property_tree::read_xml(in, tree);
    return tree.get<std::string>("Error.Code", "");
  } catch (const boost::property_tree::ptree_error&) {
    return "";
  }
}

absl::Status S3ResponseStatus(const HttpResponse& response, absl::string_view what) {
  std::string code = S3ErrorCode(response.body);
  std::string message = absl::StrCat(what, ": object store answered HTTP ", response.status,
                                     code.empty() ? "" : " ", code);
  if (response.status == 401 || response.status == 403) {
    return absl::PermissionDeniedError(
        absl::StrCat(message, " (check the s3:// credentials and the bucket's policy)"));
  }
  if (code == "NoSuchBucket") {
    return absl::FailedPreconditionError(
        absl::StrCat(message, " (create the bucket or fix the s3:// URL)"));
  }
  if (response.status == 404) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

}  // namespace kiln
