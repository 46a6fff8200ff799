// What the edge's HTTP listener (http_server.cc) shares with its connections, and how it hands a
// new connection over. The Beast session code behind these functions is split by session kind
// and stream type into four translation units (http_session_{plain,tls}.cc,
// ws_session_{plain,tls}.cc), because Beast's templates make each one slow to compile: this
// header includes only Asio's socket and TLS context, never Beast.
//
// Threading: Shared is built before serving and then only read; its metrics, send budget,
// handler, endpoint and followers are thread-safe.
#pragma once

#include <memory>

#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/edge/blob_endpoint.h"
#include "services/edge/http_request_counts.h"
#include "services/edge/http_server.h"
#include "services/edge/message_handler.h"
#include "services/edge/routes.h"
#include "services/edge/send_budget.h"

namespace kiln::edge {
class LedgerFollowers;  // followers.h, kept out of the Beast translation units
}  // namespace kiln::edge

namespace kiln::edge::http_internal {

// Server-wide state shared by every connection.
struct Shared {
  HttpServerOptions options;
  MessageHandler& dispatcher;
  const BlobEndpoint& blobs;
  LedgerFollowers& followers;
  RouteTable routes;
  prometheus::Gauge* http_connections = nullptr;
  prometheus::Gauge* ws_connections = nullptr;
  prometheus::Counter* blob_bytes_in = nullptr;
  prometheus::Counter* blob_bytes_out = nullptr;
  prometheus::Histogram* push_seconds = nullptr;
  prometheus::Counter* slow_disconnects = nullptr;
  SendBudget* send_budget = nullptr;
  std::unique_ptr<HttpRequestCounts> requests = nullptr;  // kiln_edge_http_requests_total
};

// Stops pushes to a closing WebSocket connection (defined in http_server.cc).
void Unfollow(Shared& shared, ClientSession* session);

// Serves HTTP (and WebSocket upgrades) on an accepted plain TCP connection.
void StartPlainSession(boost::asio::ip::tcp::socket socket, Shared& shared);
// The same over TLS: handshakes first with `tls`.
void StartTlsSession(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls,
                     Shared& shared);

}  // namespace kiln::edge::http_internal
