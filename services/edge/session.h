// What the protocol layer needs from one client connection. WebSocket connections implement it;
// plain HTTP requests have no session. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"

namespace kiln::edge {

class ClientSession {
 public:
  virtual ~ClientSession() = default;

  // Queues a server-initiated message (a push); never blocks. A connection whose queue is full is
  // closed instead of growing. `since` is when the change reached this edge (for push latency).
  virtual void Push(std::string json, std::chrono::steady_clock::time_point since) = 0;
  // A push whose text is `head` + `tail`, both shared by many connections (fan-out builds each
  // event's text once); joined on the connection's own thread.
  virtual void PushJoined(std::shared_ptr<const std::string> head,
                          std::shared_ptr<const std::string> tail,
                          std::chrono::steady_clock::time_point since) {
    Push(*head + *tail, since);
  }

  // The connection ids agreed at reqOpen.
  void SetConn(std::string req_id, std::string res_id) {
    absl::MutexLock lock(&mu_);
    req_id_ = std::move(req_id);
    res_id_ = std::move(res_id);
    conn_generation_.fetch_add(1, std::memory_order_release);
  }
  // Changes whenever SetConn runs, so cached copies of the ids can be checked cheaply.
  uint64_t conn_generation() const { return conn_generation_.load(std::memory_order_acquire); }
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
  std::atomic<uint64_t> conn_generation_{0};
};

}  // namespace kiln::edge
