#include "services/edge/http_server.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "services/edge/followers.h"
#include "services/edge/http_sessions.h"
#include "services/edge/jwks.h"

namespace kiln::edge {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using http_internal::Shared;

// The routes the options add to the edge's own: GET /.well-known/jwks.json when the edge
// publishes issuer keys (jwks.h), then options.extra_routes.
std::vector<Route> ExtraRoutes(const HttpServerOptions& options) {
  std::vector<Route> routes;
  if (!options.jwks_json.empty()) {
    Route jwks;
    jwks.path = std::string(kJwksPath);
    jwks.methods = {"GET"};
    jwks.label = "jwks";
    jwks.reply = [body = options.jwks_json] { return HttpReply{200, body, "application/json"}; };
    routes.push_back(std::move(jwks));
  }
  routes.insert(routes.end(), options.extra_routes.begin(), options.extra_routes.end());
  return routes;
}

// The listener: accepts connections and hands each to its session (http_sessions.h).
class HttpServerImpl : public HttpServer {
 public:
  HttpServerImpl(const HttpServerOptions& options, MessageHandler& dispatcher, BlobClient& blobs,
                 const UrlSigner& signer, LedgerFollowers& followers, const Clock& clock,
                 prometheus::Registry& registry)
      : send_budget_(options.max_send_queue_bytes, options.max_send_queue_total_bytes),
        blob_endpoint_(blobs, signer, clock, BlobEndpoint::Options{options.max_blob_bytes}),
        shared_{options, dispatcher, blob_endpoint_, followers, EdgeRoutes(ExtraRoutes(options))},
        ioc_(options.threads),
        ssl_ctx_(ssl::context::tls_server),
        acceptor_(ioc_) {
    shared_.send_budget = &send_budget_;
    auto& conns = prometheus::BuildGauge()
                      .Name("kiln_edge_connections")
                      .Help("Open client connections by protocol (http or ws).")
                      .Register(registry);
    shared_.http_connections = &conns.Add({{"protocol", "http"}});
    shared_.ws_connections = &conns.Add({{"protocol", "ws"}});
    auto& bytes = prometheus::BuildCounter()
                      .Name("kiln_edge_blob_bytes_total")
                      .Help("Blob bytes through signed URLs, by direction (in or out).")
                      .Register(registry);
    shared_.blob_bytes_in = &bytes.Add({{"direction", "in"}});
    shared_.blob_bytes_out = &bytes.Add({{"direction", "out"}});
    shared_.push_seconds =
        &prometheus::BuildHistogram()
             .Name("kiln_edge_push_latency_seconds")
             .Help(
                 "From a change reaching this edge to its push being "
                 "written to a WebSocket.")
             .Register(registry)
             .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025, 0.05, 0.1, 0.25, 0.5, 1});
    shared_.slow_disconnects = &prometheus::BuildCounter()
                                    .Name("kiln_edge_slow_client_disconnects_total")
                                    .Help(
                                        "WebSocket connections closed because their send "
                                        "queue was full (messages or bytes), or was the "
                                        "largest when the edge's total was.")
                                    .Register(registry)
                                    .Add({});
    shared_.requests =
        std::make_unique<HttpRequestCounts>(prometheus::BuildCounter()
                                                .Name("kiln_edge_http_requests_total")
                                                .Help("HTTP requests by route and status code.")
                                                .Register(registry),
                                            shared_.routes.Labels());
  }

  absl::Status Listen() {
    const auto& o = shared_.options;
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
        return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
      }
      boost::system::error_code ec;
      ssl_ctx_.use_certificate_chain_file(o.tls_cert_file, ec);
      if (!ec) ssl_ctx_.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("cannot load TLS certificate/key: " + ec.message());
      tls_ = true;
    }
    size_t colon = o.address.rfind(':');
    int port = -1;
    if (colon == std::string::npos || !absl::SimpleAtoi(o.address.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError("HTTP address must be host:port, got " + o.address);
    }
    boost::system::error_code ec;
    std::string host = o.address.substr(0, colon);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    auto ip = net::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError("HTTP address host must be an IP address: " + host);
    tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError("cannot listen on " + o.address + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  void Serve() override {
    DoAccept();
    int n = std::max(1, shared_.options.threads);
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~HttpServerImpl() override { Stop(); }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [this](boost::system::error_code ec, tcp::socket s) {
                             if (ec) {
                               if (ec != net::error::operation_aborted) DoAccept();
                               return;
                             }
                             s.set_option(tcp::no_delay(true), ec);
                             if (tls_) {
                               http_internal::StartTlsSession(std::move(s), ssl_ctx_, shared_);
                             } else {
                               http_internal::StartPlainSession(std::move(s), shared_);
                             }
                             DoAccept();
                           });
  }

  // Sessions still queued in ioc_ use send_budget_, blob_endpoint_ and shared_ when the
  // io_context destroys them, so those are declared first: they outlive ioc_.
  SendBudget send_budget_;
  BlobEndpoint blob_endpoint_;
  Shared shared_;
  net::io_context ioc_;
  ssl::context ssl_ctx_;
  tcp::acceptor acceptor_;
  bool tls_ = false;
  int port_ = 0;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

void http_internal::Unfollow(Shared& shared, ClientSession* session) {
  shared.followers.Unfollow(session);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Bind(
    const HttpServerOptions& options, MessageHandler& dispatcher, BlobClient& blobs,
    const UrlSigner& signer, LedgerFollowers& followers, const Clock& clock,
    prometheus::Registry& registry) {
  auto server = std::make_unique<HttpServerImpl>(options, dispatcher, blobs, signer, followers,
                                                 clock, registry);
  absl::Status s = server->Listen();
  if (!s.ok()) return s;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace kiln::edge
