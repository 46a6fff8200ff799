// The WebSocket session over TLS (the plain one compiles separately, ws_session_plain.cc).
#include "boost/asio/ssl.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/websocket/ssl.hpp"
#include "services/edge/ws_session.h"

namespace kiln::edge::http_internal {

template void StartWebSocket<beast::ssl_stream<beast::tcp_stream>>(
    beast::ssl_stream<beast::tcp_stream>, Shared&, http::request<http::empty_body>);

}  // namespace kiln::edge::http_internal
