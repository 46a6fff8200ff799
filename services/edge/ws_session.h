// The WebSocket session template: protocol messages in, replies and pushes out through a send
// queue bounded per connection and across the edge (send_budget.h). Internal to the edge's HTTP
// transport: included only by ws_session_plain.cc and ws_session_tls.cc, one instantiation each.
// Threading: each connection runs on its own strand; pushes and replies from other threads are
// posted to it.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "boost/beast/websocket.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "services/edge/beast_util.h"

namespace kiln::edge::http_internal {

namespace websocket = beast::websocket;

// ----- WebSocket connections -----------------------------------------------------------------

template <class Stream>
class WsSession : public ClientSession,
                  public QueueOwner,
                  public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, Shared& shared) : ws_(std::move(stream)), shared_(shared) {}

  ~WsSession() override {
    Unfollow(shared_, this);
    shared_.send_budget->Remove(this);
    if (accepted_) shared_.ws_connections->Decrement();
  }

  // The edge's send budget chose this connection, the slowest reader, to make room.
  void CutOff() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()]() { self->Cut(); });
  }

  void Run(http::request<http::empty_body> req) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{
        std::chrono::seconds(30), absl::ToChronoSeconds(shared_.options.idle_timeout), true});
    ws_.read_message_max(shared_.options.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "kiln-edge"); }));
    ws_.async_accept(req,
                     beast::bind_front_handler(&WsSession::OnAccept, this->shared_from_this()));
  }

  void PushJoined(std::shared_ptr<const std::string> head, std::shared_ptr<const std::string> tail,
                  SteadyTime since) override {
    net::post(ws_.get_executor(), [self = this->shared_from_this(), head = std::move(head),
                                   tail = std::move(tail), since]() {
      std::string json;
      json.reserve(head->size() + tail->size());
      json += *head;
      json += *tail;
      self->Enqueue(std::move(json), since);
    });
  }

  void Push(std::string json, SteadyTime since) override {
    net::post(ws_.get_executor(), [self = this->shared_from_this(), json = std::move(json),
                                   since]() mutable { self->Enqueue(std::move(json), since); });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    accepted_ = true;
    shared_.ws_connections->Increment();
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&WsSession::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      closed_ = true;  // peer closed, idle timeout, or a frame over the size limit
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    boost::system::error_code jec;
    boost::json::value v = boost::json::parse(text, jec);
    if (jec || !v.is_object()) {
      Reply r = shared_.dispatcher.BadJson(jec ? jec.message() : "not a JSON object");
      Enqueue(boost::json::serialize(r.body), SteadyTime());
    } else if (inflight_ >= shared_.options.max_inflight_per_connection) {
      Reply r = shared_.dispatcher.BadJson("too many requests in flight on this connection");
      Enqueue(boost::json::serialize(r.body), SteadyTime());
    } else {
      ++inflight_;
      auto self = this->shared_from_this();
      shared_.dispatcher.Handle(std::move(v.get_object()), self, [self](Reply reply) {
        net::post(self->ws_.get_executor(), [self, body = boost::json::serialize(reply.body)]() {
          --self->inflight_;
          self->Enqueue(body, SteadyTime());
        });
      });
    }
    DoRead();
  }

  // Queues `text` for sending. A client that cannot keep up (too many messages or bytes queued
  // for it, or the most bytes when the edge's total is over its limit) is disconnected instead
  // of growing the edge's memory.
  void Enqueue(std::string text, SteadyTime since) {
    if (closed_) return;
    if (queue_.size() >= shared_.options.max_send_queue) return Cut();
    if (shared_.send_budget->Add(this->shared_from_this(), text.size()) ==
        SendBudget::Verdict::kCutOffCaller) {
      return Cut();
    }
    queue_.emplace_back(std::move(text), since);
    if (!writing_) DoWrite();
  }

  // Disconnects a slow client: drops its queue (all but a message being written, whose buffer
  // the write still reads) and closes the socket.
  void Cut() {
    if (closed_) return;
    shared_.slow_disconnects->Increment();
    closed_ = true;
    DropQueue();
    CloseStream(ws_.next_layer());
  }

  void DropQueue() {
    while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
    shared_.send_budget->Remove(this);
  }

  void DoWrite() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front().first),
                    beast::bind_front_handler(&WsSession::OnWrite, this->shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) {
      closed_ = true;
      queue_.clear();
      shared_.send_budget->Remove(this);
      return;
    }
    auto [text, since] = std::move(queue_.front());
    queue_.pop_front();
    if (closed_) {
      queue_.clear();
      return;
    }
    shared_.send_budget->Release(this, text.size());
    if (since != SteadyTime()) {
      shared_.push_seconds->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
    }
    if (!queue_.empty()) DoWrite();
  }

  websocket::stream<Stream> ws_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::deque<std::pair<std::string, SteadyTime>> queue_;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;
  int inflight_ = 0;
};

template <class Stream>
void StartWebSocket(Stream stream, Shared& shared, http::request<http::empty_body> request) {
  std::make_shared<WsSession<Stream>>(std::move(stream), shared)->Run(std::move(request));
}

}  // namespace kiln::edge::http_internal
