// A plain HTTP reply (status, body, content type) as the edge's routes and endpoints decide it,
// kept free of Beast so that the policy deciding it compiles and is tested without the transport.
// Thread-compatible value types.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace kiln::edge {

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";  // sent only with a non-empty body
};

// The HTTP status for a storage or signing verdict: 200 OK, 400 INVALID_ARGUMENT/OUT_OF_RANGE,
// 404 NOT_FOUND, 409 ALREADY_EXISTS, 403 PERMISSION_DENIED, 401 UNAUTHENTICATED,
// 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE/DEADLINE_EXCEEDED, 500 otherwise.
int HttpStatusOf(const absl::Status& status);

// The text reply for `status`: its HTTP status and message (empty for OK).
HttpReply ReplyFor(const absl::Status& status);

}  // namespace kiln::edge
