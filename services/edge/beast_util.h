// What the edge's Beast sessions (http_session.h, ws_session.h) share: namespace aliases, CORS
// headers, closing a stream, and the hand-over of an upgraded connection from the HTTP session to
// the WebSocket session, which compiles in translation units of its own (ws_session_plain.cc,
// ws_session_tls.cc). Internal to the edge's HTTP transport.
#pragma once

#include <chrono>

#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "services/edge/http_sessions.h"

namespace kiln::edge::http_internal {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

inline void AddCors(http::fields& f) {
  f.set(http::field::access_control_allow_origin, "*");
  f.set(http::field::access_control_allow_methods, "GET, PUT, POST, DELETE, HEAD, OPTIONS");
  f.set(http::field::access_control_allow_headers, "*");
  f.set(http::field::access_control_expose_headers, "Content-Length, ETag");
  f.set(http::field::access_control_max_age, "86400");
}

template <class Stream>
void CloseStream(Stream& stream) {
  beast::error_code ec;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
}

// Runs a WebSocket session on `stream`, whose upgrade request `request` the HTTP session has
// read. Defined (explicitly instantiated) for each stream type in ws_session_{plain,tls}.cc.
template <class Stream>
void StartWebSocket(Stream stream, Shared& shared, http::request<http::empty_body> request);

}  // namespace kiln::edge::http_internal
