// The WebSocket session over plain TCP (the TLS one compiles separately, ws_session_tls.cc).
#include "services/edge/ws_session.h"

namespace kiln::edge::http_internal {

template void StartWebSocket<beast::tcp_stream>(beast::tcp_stream, Shared&,
                                                http::request<http::empty_body>);

}  // namespace kiln::edge::http_internal
