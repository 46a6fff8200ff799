#include "services/edge/routes.h"

#include "gtest/gtest.h"

namespace kiln::edge {
namespace {

TEST(RoutesTest, EdgeRoutesPickTheHandlerAndLabel) {
  RouteTable routes = EdgeRoutes();
  RouteMatch ws = routes.Find("GET", "/ws", true);
  EXPECT_EQ(ws.handler, RouteHandler::kWebSocket);
  EXPECT_EQ(ws.label, "ws");
  EXPECT_EQ(routes.Find("PUT", "/fp", false).handler, RouteHandler::kProtocol);
  EXPECT_EQ(routes.Find("POST", "/fp", false).handler, RouteHandler::kProtocol);
  RouteMatch blob = routes.Find("DELETE", "/blob/t/l/car/k", false);
  EXPECT_EQ(blob.handler, RouteHandler::kBlob);
  EXPECT_EQ(blob.label, "blob");
  RouteMatch health = routes.Find("GET", "/healthz", false);
  EXPECT_EQ(health.handler, RouteHandler::kFixed);
  EXPECT_EQ(health.label, "health");
  EXPECT_EQ(health.reply.status, 200);
  EXPECT_EQ(health.reply.body, "ok\n");
}

TEST(RoutesTest, RefusalsKeepTheirStatusBodyAndLabel) {
  RouteTable routes = EdgeRoutes();
  RouteMatch upgrade_elsewhere = routes.Find("GET", "/fp", true);
  EXPECT_EQ(upgrade_elsewhere.reply.status, 404);
  EXPECT_EQ(upgrade_elsewhere.reply.body, "WebSocket endpoint is /ws");
  EXPECT_EQ(upgrade_elsewhere.label, "ws");
  RouteMatch get_fp = routes.Find("GET", "/fp", false);
  EXPECT_EQ(get_fp.reply.status, 405);
  EXPECT_EQ(get_fp.reply.body, "use PUT /fp");
  EXPECT_EQ(get_fp.label, "fp");
  RouteMatch preflight = routes.Find("OPTIONS", "/anything", false);
  EXPECT_EQ(preflight.reply.status, 204);
  EXPECT_EQ(preflight.label, "options");
  // No upgrade: /ws is not a route; a non-GET /healthz falls through to 404.
  for (auto [method, path] :
       {std::pair{"GET", "/ws"}, std::pair{"PUT", "/healthz"}, std::pair{"GET", "/nothing"}}) {
    RouteMatch m = routes.Find(method, path, false);
    EXPECT_EQ(m.handler, RouteHandler::kFixed) << path;
    EXPECT_EQ(m.reply.status, 404) << path;
    EXPECT_EQ(m.reply.body, "no such endpoint") << path;
    EXPECT_EQ(m.label, "other") << path;
  }
}

TEST(RoutesTest, AnExtraRouteIsOneLine) {
  RouteTable routes = EdgeRoutes();
  routes.Get("/.well-known/x.json", "x", [] { return HttpReply{200, "{}", "application/json"}; });
  RouteMatch m = routes.Find("GET", "/.well-known/x.json", false);
  EXPECT_EQ(m.handler, RouteHandler::kFixed);
  EXPECT_EQ(m.reply.content_type, "application/json");
  EXPECT_EQ(m.label, "x");
  Route extra;
  extra.path = "/.well-known/y";
  extra.methods = {"GET"};
  extra.label = "y";
  extra.reply = [] { return HttpReply{200, "y"}; };
  EXPECT_EQ(EdgeRoutes({extra}).Find("GET", "/.well-known/y", false).reply.body, "y");
}

}  // namespace
}  // namespace kiln::edge
