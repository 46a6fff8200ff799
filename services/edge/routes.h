// The edge's HTTP route table: which handler serves a request, decided from its method, its path
// (with the base path removed, base_path.h) and whether it asks for a WebSocket upgrade, before
// any body is read. The transport (http_session.h) only carries out the verdict, so a route is
// added here, in one line, without touching (or recompiling) the Beast code:
//
//   routes.Get("/.well-known/thing", "thing", [] { return HttpReply{200, "..."}; });
//
// Threading: build the table before serving; Find is then safe from any thread (the table is
// immutable and fixed replies must be thread-safe).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/edge/http_reply.h"

namespace kiln::edge {

// What serves a matched request.
enum class RouteHandler {
  kFixed,      // the route's reply, made without reading a body
  kProtocol,   // one protocol message in the request body (MessageHandler)
  kWebSocket,  // a WebSocket upgrade carrying protocol messages
  kBlob,       // a signed blob URL (blob_endpoint.h)
};

struct Route {
  enum class Match { kExact, kContains };
  std::string path;  // the route path, e.g. "/fp"; with kContains, a substring of it
  Match match = Match::kExact;
  std::vector<std::string> methods;  // e.g. {"GET"}; empty takes every method
  RouteHandler handler = RouteHandler::kFixed;
  std::string label;                      // the `route` label of kiln_edge_http_requests_total
  std::function<HttpReply()> reply;       // kFixed only
  std::optional<HttpReply> other_method;  // the reply to another method (else: the next route)
  bool upgrade = false;  // matches WebSocket upgrade requests only (and only those)
};

struct RouteMatch {
  RouteHandler handler = RouteHandler::kFixed;
  std::string label;
  HttpReply reply;  // kFixed only
};

class RouteTable {
 public:
  // Adds `route` after the ones already there (the first that matches wins).
  RouteTable& Add(Route route);
  // A GET route answered by `reply`.
  RouteTable& Get(std::string path, std::string label, std::function<HttpReply()> reply);

  // The route for a request. An upgrade to a path with no upgrade route is 404 (label "ws"); any
  // OPTIONS request is the CORS preflight, 204 (label "options"); a request no route takes is 404
  // (label "other").
  RouteMatch Find(absl::string_view method, absl::string_view path, bool upgrade) const;

  // Every label Find can answer with (the routes' and "ws", "options", "other"), each once.
  std::vector<std::string> Labels() const;

 private:
  std::vector<Route> routes_;
};

// The edge's routes: WebSocket upgrade at /ws, PUT|POST /fp, GET /healthz and the signed blob
// URLs (any path holding "/blob/"), then `extra` in order.
RouteTable EdgeRoutes(std::vector<Route> extra = {});

}  // namespace kiln::edge
