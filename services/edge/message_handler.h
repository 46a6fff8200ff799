// What the HTTP/WebSocket layer needs from the protocol layer, kept free of protobuf and gRPC
// headers so the slow Beast translation unit rebuilds only when the transport changes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "boost/json/object.hpp"
#include "services/edge/session.h"

namespace kiln::edge {

// A reply and the HTTP status it maps to (200; 500 for `error` replies, as the reference does;
// 400 for bodies that are not JSON).
struct Reply {
  boost::json::object body;
  int http_status = 200;
};

class MessageHandler {
 public:
  using Done = std::function<void(Reply)>;
  virtual ~MessageHandler() = default;
  // Handles one message. `session` is the WebSocket connection, or nullptr over HTTP. `done` runs
  // exactly once, on the calling thread or a gRPC callback thread, and must not block.
  virtual void Handle(boost::json::object message, const std::shared_ptr<ClientSession>& session,
                      Done done) = 0;
  // The reply to a body that is not a JSON object (HTTP 400).
  virtual Reply BadJson(const std::string& why) = 0;
};

}  // namespace kiln::edge
