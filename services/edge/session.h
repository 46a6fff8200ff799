// What the protocol layer needs from one client connection. WebSocket connections implement it;
// plain HTTP requests have no session. Thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "absl/synchronization/mutex.h"

namespace kiln::edge {

class ClientSession {
 public:
  virtual ~ClientSession() = default;

  // Queues a server-initiated message (a push); never blocks. A connection whose queue is full is
  // closed instead of growing. `since` is when the change reached this edge (for push latency).
  virtual void Push(std::string json, std::chrono::steady_clock::time_point since) = 0;

  // The connection ids agreed at reqOpen.
  void SetConn(std::string req_id, std::string res_id) {
    absl::MutexLock lock(&mu_);
    req_id_ = std::move(req_id);
    res_id_ = std::move(res_id);
  }
  std::string req_id() const {
    absl::MutexLock lock(&mu_);
    return req_id_;
  }
  std::string res_id() const {
    absl::MutexLock lock(&mu_);
    return res_id_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string req_id_;
  std::string res_id_;
};

}  // namespace kiln::edge
