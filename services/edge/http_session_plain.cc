// The Beast sessions over plain TCP (the TLS ones compile separately, http_session_tls.cc).
#include "services/edge/http_session.h"

namespace kiln::edge::http_internal {

void StartPlainSession(tcp::socket socket, Shared& shared) {
  auto session = std::make_shared<HttpSession<beast::tcp_stream>>(
      beast::tcp_stream(std::move(socket)), shared);
  session->Run([](beast::tcp_stream&, auto then) { then(beast::error_code()); });
}

}  // namespace kiln::edge::http_internal
