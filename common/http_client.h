// A blocking HTTP/1.1 client on libcurl for talking to object stores: a bounded pool of curl easy
// handles, each keeping its connection alive between requests, with connect and transfer
// timeouts. It only moves bytes: signing, retries and status interpretation belong to callers.
//
// Thread-safe: Send may be called from many threads at once; each call takes a handle from the
// pool (waiting while all `max_connections` are busy) and returns it afterwards. Calls block, so
// never make them on a gRPC reactor thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kiln {

struct HttpClientOptions {
  // Most requests in flight at once (and most kept-alive connections).
  size_t max_connections = 16;
  // Time allowed to establish a TCP connection.
  absl::Duration connect_timeout = absl::Seconds(5);
  // A transfer moving fewer than `min_bytes_per_second` for `stall_timeout` is aborted: catches a
  // server that stops answering without bounding how long a large body may take.
  absl::Duration stall_timeout = absl::Seconds(15);
  uint64_t min_bytes_per_second = 1024;
};

struct HttpResponse;

// Takes a successful (2xx) response's body as it arrives, instead of HttpClient gathering it
// (HttpRequest::sink). Called on the thread that runs HttpClient::Send, in order; either call may
// block (the transfer waits meanwhile, so a slow sink holds the connection).
class HttpBodySink {
 public:
  virtual ~HttpBodySink() = default;
  // The status line and all headers of a 2xx response arrived, before any body byte. Returning
  // false stops the transfer: Send then returns the response (status and headers) as OK.
  virtual bool OnHeaders(const HttpResponse& response) = 0;
  // The next bytes of the body. Returning false stops the transfer as above.
  virtual bool OnBody(absl::string_view data) = 0;
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;     // absolute, with the path and query already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  // The body, not owned: it must outlive the call. Sent with Content-Length (never chunked) for
  // PUT and POST.
  absl::string_view body;
  // Largest response body accepted; 0 for no limit.
  uint64_t max_response_bytes = 0;
  // With a limit: a larger body is not read (the transfer stops, closing the connection) and the
  // response comes back OK with its status and headers, an empty body and `body_skipped` set,
  // instead of RESOURCE_EXHAUSTED.
  bool skip_larger_body = false;
  // Not owned; when set, a 2xx response's body goes to it (see HttpBodySink) and the returned
  // response has an empty body. Bodies of other statuses are gathered as usual.
  HttpBodySink* sink = nullptr;
};

struct HttpResponse {
  int status = 0;
  absl::flat_hash_map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The body was larger than the request's limit and was not read (skip_larger_body).
  bool body_skipped = false;
  // The request's sink stopped the transfer (HttpBodySink).
  bool sink_stopped = false;

  // The header's value, or empty when absent. `name` must be lower-case.
  std::string Header(absl::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(const HttpClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the whole response into memory (the body is reserved at its
  // Content-Length, so it is not copied while growing), or passes a 2xx body to the request's
  // sink. Any HTTP status is an OK return, as is a transfer the sink stopped. Returns
  // UNAVAILABLE when no complete response arrived (connection refused or reset, a timeout, a
  // body cut short, also after the sink took part of it), RESOURCE_EXHAUSTED when the body
  // exceeds `max_response_bytes`, INVALID_ARGUMENT for a malformed URL.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);

  const HttpClientOptions options_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);
  size_t created_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln
