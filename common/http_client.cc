#include "common/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace kiln {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { CHECK_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); });
}

constexpr long kSinkBufferBytes = 128 << 10;

struct Transfer {
  absl::string_view upload;
  size_t upload_offset = 0;
  HttpResponse* response;
  bool expect_body = true;   // false for HEAD, whose Content-Length describes no body
  uint64_t max_body = 0;     // 0: no limit
  bool skip_larger = false;  // stop at the first byte of a too large body, headers all read
  bool too_large = false;
  HttpBodySink* sink = nullptr;  // takes a 2xx body (HttpRequest::sink)
  bool streaming = false;        // the sink accepted the headers: body bytes go to it
  bool sink_stopped = false;     // the sink asked to stop
};

bool Successful(int status) { return status >= 200 && status < 300; }

size_t ReadBody(char* buffer, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = std::min(size * nitems, t->upload.size() - t->upload_offset);
  std::memcpy(buffer, t->upload.data() + t->upload_offset, n);
  t->upload_offset += n;
  return n;
}

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->streaming) {
    if (t->sink->OnBody(absl::string_view(data, size * nmemb))) return size * nmemb;
    t->sink_stopped = true;
    return 0;  // aborts the transfer
  }
  if (t->max_body != 0 && (t->too_large || t->response->body.size() + size * nmemb > t->max_body)) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->response->body.append(data, size * nmemb);
  return size * nmemb;
}

size_t WriteHeader(char* data, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view line(data, size * nitems);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or a 100 Continue): forget the previous one's headers.
    t->response->headers.clear();
    // "HTTP/1.1 200 OK": kept for a transfer stopped before curl reports the code.
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &t->response->status)) {
      t->response->status = 0;
    }
    return line.size();
  }
  if (absl::StripAsciiWhitespace(line).empty()) {
    // The end of a response's headers (interim 1xx responses have their own).
    if (t->sink != nullptr && Successful(t->response->status)) {
      if (!t->sink->OnHeaders(*t->response)) {
        t->sink_stopped = true;
        return 0;  // aborts the transfer
      }
      t->streaming = true;
    }
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return line.size();
  std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  if (name == "content-length") {
    uint64_t length = 0;
    // Reserve up front so a large body is not copied as it grows (bounded by the caller's limits
    // on what it asks for; a bogus length only costs a reservation).
    // A body for the sink is not gathered: neither limited nor reserved here.
    const bool to_sink = t->sink != nullptr && Successful(t->response->status);
    if (t->expect_body && !to_sink && absl::SimpleAtoi(value, &length)) {
      if (t->max_body != 0 && length > t->max_body) {
        t->too_large = true;
        // Aborts the transfer before any of the body is read; when the caller wants the headers,
        // at the body's first byte instead (WriteBody), once all of them have arrived.
        if (!t->skip_larger) return 0;
        t->response->headers[name] = std::move(value);
        return line.size();
      }
      if (length <= (1ull << 32)) t->response->body.reserve(length);
    }
  }
  t->response->headers[name] = std::move(value);
  return line.size();
}

absl::Status CurlError(CURLcode code, const char* detail) {
  std::string message = absl::StrCat("HTTP transport: ", curl_easy_strerror(code),
                                     detail[0] != '\0' ? absl::StrCat(" (", detail, ")") : "");
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

std::string HttpResponse::Header(absl::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(const HttpClientOptions& options) : options_(options) { GlobalInit(); }

HttpClient::~HttpClient() {
  absl::MutexLock lock(&mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Acquire() {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || created_ < options_.max_connections;
  };
  mu_.Await(absl::Condition(&available));
  if (!idle_.empty()) {
    void* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  CURL* h = curl_easy_init();
  CHECK(h != nullptr) << "curl_easy_init failed (out of memory)";
  ++created_;
  return h;
}

void HttpClient::Release(void* handle) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(handle);
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  CURL* h = static_cast<CURL*>(Acquire());
  // Reset clears the options but keeps the handle's live connection for keep-alive.
  curl_easy_reset(h);
  HttpResponse response;
  Transfer transfer{request.body,
                    0,
                    &response,
                    request.method != "HEAD",
                    request.max_response_bytes,
                    request.skip_larger_body,
                    false,
                    request.sink};
  char error[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // No "Expect: 100-continue" round trip before bodies.
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // object stores are reached directly
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.min_bytes_per_second));
  curl_easy_setopt(
      h, CURLOPT_LOW_SPEED_TIME,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Seconds(options_.stall_timeout))));
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  // A streamed body arrives in larger pieces: fewer calls into the sink.
  if (request.sink != nullptr) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kSinkBufferBytes);
  if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(h);
  long status = 0;
  if (code == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  // Drop the header/body callbacks' pointers into this frame before the handle is shared again.
  curl_easy_reset(h);
  Release(h);
  if (transfer.sink_stopped) {
    response.sink_stopped = true;
    return response;
  }
  if (transfer.too_large && request.skip_larger_body && response.status != 0) {
    response.body.clear();
    response.body.shrink_to_fit();
    response.body_skipped = true;
    return response;
  }
  if (transfer.too_large) {
    return absl::ResourceExhaustedError(absl::StrCat("HTTP response body larger than the limit of ",
                                                     request.max_response_bytes, " bytes"));
  }
  if (code != CURLE_OK) return CurlError(code, error);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace kiln
