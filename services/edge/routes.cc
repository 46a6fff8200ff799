#include "services/edge/routes.h"

#include <algorithm>
#include <utility>

namespace kiln::edge {
namespace {

bool PathMatches(const Route& route, absl::string_view path) {
  if (route.match == Route::Match::kContains) return path.find(route.path) != path.npos;
  return path == route.path;
}

RouteMatch Fixed(std::string label, HttpReply reply) {
  return RouteMatch{RouteHandler::kFixed, std::move(label), std::move(reply)};
}

RouteMatch Handled(const Route& route) {
  RouteMatch match;
  match.handler = route.handler;
  match.label = route.label;
  return match;
}

Route Path(std::string path, std::vector<std::string> methods, RouteHandler handler,
           std::string label) {
  Route route;
  route.path = std::move(path);
  route.methods = std::move(methods);
  route.handler = handler;
  route.label = std::move(label);
  return route;
}

}  // namespace

RouteTable& RouteTable::Add(Route route) {
  routes_.push_back(std::move(route));
  return *this;
}

RouteTable& RouteTable::Get(std::string path, std::string label, std::function<HttpReply()> reply) {
  Route route;
  route.path = std::move(path);
  route.methods = {"GET"};
  route.label = std::move(label);
  route.reply = std::move(reply);
  return Add(std::move(route));
}

RouteMatch RouteTable::Find(absl::string_view method, absl::string_view path, bool upgrade) const {
  if (upgrade) {
    for (const Route& route : routes_) {
      if (route.upgrade && PathMatches(route, path)) return Handled(route);
    }
    return Fixed("ws", HttpReply{404, "WebSocket endpoint is /ws"});
  }
  if (method == "OPTIONS") return Fixed("options", HttpReply{204, ""});
  for (const Route& route : routes_) {
    if (route.upgrade || !PathMatches(route, path)) continue;
    bool method_ok = route.methods.empty() || std::find(route.methods.begin(), route.methods.end(),
                                                        method) != route.methods.end();
    if (!method_ok) {
      if (route.other_method.has_value()) return Fixed(route.label, *route.other_method);
      continue;
    }
    RouteMatch match = Handled(route);
    if (route.handler == RouteHandler::kFixed) match.reply = route.reply();
    return match;
  }
  return Fixed("other", HttpReply{404, "no such endpoint"});
}

std::vector<std::string> RouteTable::Labels() const {
  std::vector<std::string> labels = {"ws", "options", "other"};
  for (const Route& route : routes_) {
    if (std::find(labels.begin(), labels.end(), route.label) == labels.end()) {
      labels.push_back(route.label);
    }
  }
  return labels;
}

RouteTable EdgeRoutes(std::vector<Route> extra) {
  RouteTable table;
  Route ws = Path("/ws", {}, RouteHandler::kWebSocket, "ws");
  ws.upgrade = true;
  table.Add(std::move(ws));
  Route fp = Path("/fp", {"PUT", "POST"}, RouteHandler::kProtocol, "fp");
  fp.other_method = HttpReply{405, "use PUT /fp"};
  table.Add(std::move(fp));
  table.Get("/healthz", "health", [] { return HttpReply{200, "ok\n"}; });
  Route blob = Path("/blob/", {}, RouteHandler::kBlob, "blob");
  blob.match = Route::Match::kContains;
  table.Add(std::move(blob));
  for (Route& route : extra) table.Add(std::move(route));
  return table;
}

}  // namespace kiln::edge
