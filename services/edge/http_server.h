// The edge's HTTP/1.1 and WebSocket front door (Boost.Beast), plain or TLS, on one port:
//   PUT /fp                one protocol message in, one out (also POST)
//   GET /ws                WebSocket upgrade; text or binary frames holding JSON messages
//   OPTIONS *              CORS preflight
//   PUT|GET|HEAD|DELETE /blob/<tenant>/<ledger>/<store>/<key>?exp=&sig=   signed blob URLs,
//                          streamed to and from the block-store in chunks
//   GET /healthz           200 while serving
// Layers: this listener (http_server.cc, Asio only) hands each connection to a Beast session
// (http_session.h, ws_session.h; each compiled for plain TCP and for TLS in translation units of
// their own, since Beast is slow to compile). The sessions are transport only: the route table
// (routes.h) decides what a request is for, BlobEndpoint (blob_endpoint.h) the blob replies and
// the MessageHandler the protocol replies.
//
// Threading: Start runs `threads` I/O threads; each connection runs on its own strand. Nothing
// blocks on them: protocol and storage work completes through callbacks posted back to the strand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "prometheus/registry.h"
#include "services/edge/blob_client.h"
#include "services/edge/message_handler.h"
#include "services/edge/routes.h"
#include "services/edge/signed_url.h"

namespace kiln::edge {

class LedgerFollowers;  // followers.h

struct HttpServerOptions {
  std::string address = "127.0.0.1:8787";  // host:port; port 0 picks one
  int threads = 2;
  std::string tls_cert_file;  // PEM; TLS is on when both files are set
  std::string tls_key_file;
  uint64_t max_message_bytes = 4 << 20;  // one protocol message (HTTP body or WS frame)
  uint64_t max_blob_bytes = 64ull << 20;
  int max_inflight_per_connection = 64;     // protocol messages awaiting replies on one WebSocket
  size_t max_send_queue = 1024;             // queued outgoing WebSocket messages before disconnect
  uint64_t max_send_queue_bytes = 8 << 20;  // queued outgoing bytes of one connection
  // Queued outgoing bytes of all connections: past it the connection holding the most is cut off.
  uint64_t max_send_queue_total_bytes = 512 << 20;
  absl::Duration idle_timeout = absl::Minutes(5);
  std::string base_path;  // routes are served under it and at the root (base_path.h)
  // The body of GET /.well-known/jwks.json (the trusted issuer keys, jwks.h); empty: 404.
  std::string jwks_json;
  std::vector<Route> extra_routes;  // served after the edge's own routes (routes.h)
};

class HttpServer {
 public:
  // Binds (without accepting yet). INVALID_ARGUMENT for a bad address or unreadable TLS files,
  // UNAVAILABLE when the address cannot be bound. Dependencies must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Bind(
      const HttpServerOptions& options, MessageHandler& dispatcher, BlobClient& blobs,
      const UrlSigner& signer, LedgerFollowers& followers, const Clock& clock,
      prometheus::Registry& registry);
  virtual ~HttpServer() = default;

  // The bound port.
  virtual int port() const = 0;
  // Starts accepting connections on the I/O threads.
  virtual void Serve() = 0;
  // Stops accepting, closes connections, joins the I/O threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace kiln::edge
