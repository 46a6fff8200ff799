// The Beast sessions over TLS (the plain ones compile separately, http_session_plain.cc).
#include "boost/asio/ssl.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/websocket/ssl.hpp"
#include "services/edge/http_session.h"

namespace kiln::edge::http_internal {

void StartTlsSession(tcp::socket socket, net::ssl::context& tls, Shared& shared) {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  auto session = std::make_shared<HttpSession<TlsStream>>(
      TlsStream(beast::tcp_stream(std::move(socket)), tls), shared);
  session->Run([](TlsStream& stream, auto then) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    stream.async_handshake(net::ssl::stream_base::server, std::move(then));
  });
}

}  // namespace kiln::edge::http_internal
