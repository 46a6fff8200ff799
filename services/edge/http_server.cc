#include "services/edge/http_server.h"

#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/websocket.hpp"
#include "boost/beast/websocket/ssl.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "glog/logging.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/edge/base_path.h"
#include "services/edge/jwks.h"
#include "services/edge/send_budget.h"

namespace kiln::edge {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kBlobChunk = 256 << 10;

// Server-wide state shared by every connection.
struct Shared {
  HttpServerOptions options;
  MessageHandler& dispatcher;
  BlobClient& blobs;
  const UrlSigner& signer;
  LedgerFollowers& followers;
  const Clock& clock;
  prometheus::Gauge* http_connections;
  prometheus::Gauge* ws_connections;
  prometheus::Counter* blob_bytes_in;
  prometheus::Counter* blob_bytes_out;
  prometheus::Histogram* push_seconds;
  prometheus::Counter* slow_disconnects;
  SendBudget* send_budget;
  prometheus::Family<prometheus::Counter>* requests;
};

void AddCors(http::fields& f) {
  f.set(http::field::access_control_allow_origin, "*");
  f.set(http::field::access_control_allow_methods, "GET, PUT, POST, DELETE, HEAD, OPTIONS");
  f.set(http::field::access_control_allow_headers, "*");
  f.set(http::field::access_control_expose_headers, "Content-Length, ETag");
  f.set(http::field::access_control_max_age, "86400");
}

http::status HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return http::status::ok;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return http::status::bad_request;
    case absl::StatusCode::kNotFound:
      return http::status::not_found;
    case absl::StatusCode::kAlreadyExists:
      return http::status::conflict;
    case absl::StatusCode::kPermissionDenied:
      return http::status::forbidden;
    case absl::StatusCode::kUnauthenticated:
      return http::status::unauthorized;
    case absl::StatusCode::kResourceExhausted:
      return http::status::too_many_requests;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return http::status::service_unavailable;
    default:
      return http::status::internal_server_error;
  }
}

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, beast::tcp_stream>;

template <class Stream>
void CloseStream(Stream& stream) {
  beast::error_code ec;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
}

// ----- WebSocket connections -----------------------------------------------------------------

template <class Stream>
class WsSession : public ClientSession,
                  public QueueOwner,
                  public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, Shared& shared) : ws_(std::move(stream)), shared_(shared) {}

  ~WsSession() override {
    shared_.followers.Unfollow(this);
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

// ----- HTTP connections ------------------------------------------------------------------------

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, Shared& shared) : stream_(std::move(stream)), shared_(shared) {
    shared_.http_connections->Increment();
  }
  ~HttpSession() { shared_.http_connections->Decrement(); }

  void Run() {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->DoRead();
                              });
    } else {
      DoRead();
    }
  }

 private:
  void DoRead() {
    header_.emplace();
    // Beast checks Content-Length against the limit as soon as the header is parsed; each route
    // applies its own limit (protocol messages vs blobs) once it knows which one it is.
    header_->body_limit(boost::none);
    beast::get_lowest_layer(stream_).expires_after(
        absl::ToChronoSeconds(shared_.options.idle_timeout));
    http::async_read_header(
        stream_, buffer_, *header_,
        beast::bind_front_handler(&HttpSession::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      header_.reset();  // the reply closes the connection: the rest of the request is unread
      return SendText(http::status::request_header_fields_too_large,
                      "request headers are larger than the edge accepts (8 KiB in all)", "other");
    }
    if (ec) {
      if (ec != http::error::end_of_stream) CloseStream(stream_);
      return;
    }
    auto& req = header_->get();
    std::string target(req.target());
    std::string path = RoutePath(target.substr(0, target.find('?')), shared_.options.base_path);
    if (websocket::is_upgrade(req)) {
      if (path != "/ws")
        return SendText(http::status::not_found, "WebSocket endpoint is /ws", "ws");
      Count("ws", 101);
      std::make_shared<WsSession<Stream>>(std::move(stream_), shared_)->Run(header_->release());
      return;
    }
    if (req.method() == http::verb::options)
      return SendText(http::status::no_content, "", "options");
    if (path == "/fp") {
      if (req.method() != http::verb::put && req.method() != http::verb::post) {
        return SendText(http::status::method_not_allowed, "use PUT /fp", "fp");
      }
      boost::optional<uint64_t> length = header_->content_length();
      if (length.has_value() && *length > shared_.options.max_message_bytes) {
        return SendJson(shared_.dispatcher.BadJson(absl::StrCat(
            "message is ", *length, " bytes; the limit is ", shared_.options.max_message_bytes)));
      }
      body_.emplace(std::move(*header_));
      body_->body_limit(shared_.options.max_message_bytes);
      http::async_read(stream_, buffer_, *body_,
                       beast::bind_front_handler(&HttpSession::OnFpBody, this->shared_from_this()));
      return;
    }
    if (path == "/healthz" && req.method() == http::verb::get) {
      return SendText(http::status::ok, "ok\n", "health");
    }
    if (path.find("/blob/") != std::string::npos) return HandleBlob(target);
    if (path == kJwksPath && req.method() == http::verb::get &&
        !shared_.options.jwks_json.empty()) {
      Count("jwks", 200);
      return Send(http::status::ok, shared_.options.jwks_json, "application/json");
    }
    SendText(http::status::not_found, "no such endpoint", "other");
  }

  void OnFpBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      return SendJson(shared_.dispatcher.BadJson("message is larger than the limit"));
    }
    if (ec) return CloseStream(stream_);
    boost::system::error_code jec;
    boost::json::value v = boost::json::parse(body_->get().body(), jec);
    if (jec || !v.is_object()) {
      return SendJson(shared_.dispatcher.BadJson(jec ? jec.message() : "not a JSON object"));
    }
    auto self = this->shared_from_this();
    shared_.dispatcher.Handle(std::move(v.get_object()), nullptr, [self](Reply reply) {
      net::post(self->stream_.get_executor(),
                [self, reply = std::move(reply)]() mutable { self->SendJson(std::move(reply)); });
    });
  }

  // ----- blobs -----

  void HandleBlob(const std::string& target) {
    auto& req = header_->get();
    std::string method(req.method_string());
    if (req.method() != http::verb::put && req.method() != http::verb::get &&
        req.method() != http::verb::head && req.method() != http::verb::delete_) {
      return SendText(http::status::method_not_allowed, "blob URLs take PUT, GET, HEAD, DELETE",
                      "blob");
    }
    absl::StatusOr<BlobAddress> blob = shared_.signer.Verify(method, target, shared_.clock.Now());
    if (!blob.ok()) {
      return SendText(HttpStatusOf(blob.status()), std::string(blob.status().message()), "blob");
    }
    blob_ = *std::move(blob);
    auto self = this->shared_from_this();
    switch (req.method()) {
      case http::verb::put:
        return StartUpload();
      case http::verb::get:
        download_ = shared_.blobs.Download(blob_);
        return download_->Next([self](absl::StatusOr<std::optional<BlobDownload::Chunk>> r) {
          net::post(self->stream_.get_executor(),
                    [self, r = std::move(r)]() mutable { self->OnFirstChunk(std::move(r)); });
        });
      case http::verb::head:
        return shared_.blobs.Stat(blob_, [self](absl::StatusOr<std::optional<uint64_t>> r) {
          net::post(self->stream_.get_executor(), [self, r = std::move(r)]() {
            if (!r.ok()) return self->SendText(HttpStatusOf(r.status()), "", "blob");
            if (!r->has_value()) return self->SendText(http::status::not_found, "", "blob");
            self->SendHead(**r);
          });
        });
      default:
        return shared_.blobs.Delete(blob_, [self](absl::StatusOr<bool> r) {
          net::post(self->stream_.get_executor(), [self, r = std::move(r)]() {
            if (!r.ok()) {
              return self->SendText(HttpStatusOf(r.status()), std::string(r.status().message()),
                                    "blob");
            }
            self->SendText(http::status::ok, "", "blob");
          });
        });
    }
  }

  void StartUpload() {
    boost::optional<uint64_t> length = header_->content_length();
    if (!length.has_value()) {
      return SendText(http::status::length_required, "blob uploads need a Content-Length", "blob");
    }
    if (*length > shared_.options.max_blob_bytes) {
      return SendText(http::status::payload_too_large,
                      absl::StrCat("blob is ", *length, " bytes; the limit is ",
                                   shared_.options.max_blob_bytes),
                      "blob");
    }
    upload_ = shared_.blobs.Upload(blob_, *length);
    upload_body_.emplace(std::move(*header_));
    upload_body_->body_limit(shared_.options.max_blob_bytes);
    chunk_.resize(kBlobChunk);
    ReadUploadChunk();
  }

  void ReadUploadChunk() {
    if (upload_body_->is_done()) return FinishUpload();
    auto& body = upload_body_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_read_some(
        stream_, buffer_, *upload_body_,
        beast::bind_front_handler(&HttpSession::OnUploadChunk, this->shared_from_this()));
  }

  void OnUploadChunk(beast::error_code ec, size_t) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      upload_->Cancel();  // a broken-off upload stores nothing
      return CloseStream(stream_);
    }
    size_t got = chunk_.size() - upload_body_->get().body().size;
    if (got == 0) return ReadUploadChunk();
    shared_.blob_bytes_in->Increment(static_cast<double>(got));
    auto self = this->shared_from_this();
    upload_->Write(std::string(chunk_.data(), got), [self](bool ok) {
      net::post(self->stream_.get_executor(), [self, ok]() {
        if (!ok) return self->FinishUpload();
        self->ReadUploadChunk();
      });
    });
  }

  void FinishUpload() {
    auto self = this->shared_from_this();
    upload_->Finish([self](absl::Status s) {
      net::post(self->stream_.get_executor(), [self, s]() mutable {
        // CAR and file keys are CIDs of the *plaintext*: two clients with different keys upload
        // different ciphertexts of the same content. The first is kept and serves both, since
        // every reader learns every writer's key through key gossip.
        if (s.code() == absl::StatusCode::kAlreadyExists &&
            (self->blob_.store == "car" || self->blob_.store == "file")) {
          s = absl::OkStatus();
        }
        self->SendText(HttpStatusOf(s), s.ok() ? "" : std::string(s.message()), "blob");
      });
    });
  }

  void OnFirstChunk(absl::StatusOr<std::optional<BlobDownload::Chunk>> r) {
    if (!r.ok()) {
      return SendText(HttpStatusOf(r.status()), std::string(r.status().message()), "blob");
    }
    uint64_t total = r->has_value() ? (*r)->total_size : 0;
    download_res_.emplace(http::status::ok, header_->get().version());
    download_res_->set(http::field::server, "kiln-edge");
    download_res_->set(http::field::content_type, "application/octet-stream");
    AddCors(*download_res_);
    download_res_->content_length(total);
    download_res_->keep_alive(header_->get().keep_alive());
    download_res_->body().data = nullptr;
    download_res_->body().more = true;
    download_sr_.emplace(*download_res_);
    pending_ = r->has_value() ? std::move((*r)->data) : std::string();
    download_done_ = !r->has_value();
    Count("blob", 200);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_write_header(stream_, *download_sr_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->AbortDownload();
                               self->WritePending();
                             });
  }

  void WritePending() {
    if (pending_.empty()) {
      if (download_done_) {
        download_res_->body().data = nullptr;
        download_res_->body().more = false;
        return http::async_write(stream_, *download_sr_,
                                 [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                   if (ec && ec != http::error::need_buffer)
                                     return self->AbortDownload();
                                   bool keep = self->download_res_->keep_alive();
                                   self->download_sr_.reset();
                                   self->download_res_.reset();
                                   self->download_.reset();
                                   if (keep) return self->DoRead();
                                   CloseStream(self->stream_);
                                 });
      }
      auto self = this->shared_from_this();
      return download_->Next([self](absl::StatusOr<std::optional<BlobDownload::Chunk>> r) {
        net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
          if (!r.ok()) return self->AbortDownload();  // headers are out: all we can do is close
          if (!r->has_value()) {
            self->download_done_ = true;
          } else {
            self->pending_ = std::move((*r)->data);
          }
          self->WritePending();
        });
      });
    }
    download_res_->body().data = pending_.data();
    download_res_->body().size = pending_.size();
    download_res_->body().more = true;
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_write(
        stream_, *download_sr_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
          if (ec && ec != http::error::need_buffer) return self->AbortDownload();
          self->shared_.blob_bytes_out->Increment(static_cast<double>(self->pending_.size()));
          self->pending_.clear();
          self->WritePending();
        });
  }

  void AbortDownload() {
    if (download_ != nullptr) download_->Cancel();
    CloseStream(stream_);
  }

  void SendHead(uint64_t size) {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok,
                                                                  header_->get().version());
    res->set(http::field::server, "kiln-edge");
    res->set(http::field::content_type, "application/octet-stream");
    AddCors(*res);
    res->content_length(size);
    res->keep_alive(header_->get().keep_alive());
    Count("blob", 200);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->AfterWrite(ec, res->keep_alive());
                      });
  }

  // ----- responses -----

  void SendJson(Reply reply) {
    auto status = static_cast<http::status>(reply.http_status);
    Count("fp", reply.http_status);
    Send(status, boost::json::serialize(reply.body), "application/json");
  }

  void SendText(http::status status, std::string body, const char* route) {
    Count(route, static_cast<int>(status));
    Send(status, std::move(body), "text/plain; charset=utf-8");
  }

  // The HTTP version of the request being answered, and whether the connection can take another
  // request after the reply: not when the client asked to close, nor when the request's body was
  // left unread. The parser that read the body last holds the request (the header parser is
  // moved into the body parsers).
  std::pair<unsigned, bool> VersionAndKeepAlive() const {
    if (upload_body_.has_value()) {
      const auto& req = upload_body_->get();
      return {req.version(), req.keep_alive() && upload_body_->is_done()};
    }
    if (body_.has_value()) return {body_->get().version(), body_->get().keep_alive()};
    if (header_.has_value()) {
      return {header_->get().version(), header_->get().keep_alive() && header_->is_done()};
    }
    return {11, false};
  }

  void Send(http::status status, std::string body, const char* content_type) {
    auto [version, keep_alive] = VersionAndKeepAlive();
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, "kiln-edge");
    if (!body.empty()) res->set(http::field::content_type, content_type);
    AddCors(*res);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->AfterWrite(ec, res->keep_alive());
                      });
  }

  void AfterWrite(beast::error_code ec, bool keep_alive) {
    body_.reset();
    upload_body_.reset();
    upload_.reset();
    if (ec || !keep_alive) return CloseStream(stream_);
    DoRead();
  }

  void Count(const char* route, int code) {
    shared_.requests->Add({{"route", route}, {"code", std::to_string(code)}}).Increment();
  }

  Stream stream_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_;
  std::optional<http::request_parser<http::string_body>> body_;
  std::optional<http::request_parser<http::buffer_body>> upload_body_;
  BlobAddress blob_;
  std::shared_ptr<BlobUpload> upload_;
  std::vector<char> chunk_;
  std::shared_ptr<BlobDownload> download_;
  std::optional<http::response<http::buffer_body>> download_res_;
  std::optional<http::response_serializer<http::buffer_body>> download_sr_;
  std::string pending_;
  bool download_done_ = false;
};

// ----- listener and server -----------------------------------------------------------------------

class HttpServerImpl : public HttpServer {
 public:
  HttpServerImpl(const HttpServerOptions& options, MessageHandler& dispatcher, BlobClient& blobs,
                 const UrlSigner& signer, LedgerFollowers& followers, const Clock& clock,
                 prometheus::Registry& registry)
      : send_budget_(options.max_send_queue_bytes, options.max_send_queue_total_bytes),
        shared_{options, dispatcher, blobs,   signer,  followers, clock,   nullptr,
                nullptr, nullptr,    nullptr, nullptr, nullptr,   nullptr, nullptr},
        ioc_(options.threads),
        ssl_ctx_(ssl::context::tls_server),
        acceptor_(ioc_) {
    shared_.send_budget = &send_budget_;
    auto& conns = prometheus::BuildGauge()
                      .Name("kiln_edge_connections")
                      .Help("Open client connections by protocol (http or ws).")
                      .Register(registry);
    shared_.http_connections = &conns.Add({{"protocol", "http"}});
    shared_.ws_connections = &conns.Add({{"protocol", "ws"}});
    auto& bytes = prometheus::BuildCounter()
                      .Name("kiln_edge_blob_bytes_total")
                      .Help("Blob bytes through signed URLs, by direction (in or out).")
                      .Register(registry);
    shared_.blob_bytes_in = &bytes.Add({{"direction", "in"}});
    shared_.blob_bytes_out = &bytes.Add({{"direction", "out"}});
    shared_.push_seconds =
        &prometheus::BuildHistogram()
             .Name("kiln_edge_push_latency_seconds")
             .Help(
                 "From a change reaching this edge to its push being "
                 "written to a WebSocket.")
             .Register(registry)
             .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025, 0.05, 0.1, 0.25, 0.5, 1});
    shared_.slow_disconnects = &prometheus::BuildCounter()
                                    .Name("kiln_edge_slow_client_disconnects_total")
                                    .Help(
                                        "WebSocket connections closed because their send "
                                        "queue was full (messages or bytes), or was the "
                                        "largest when the edge's total was.")
                                    .Register(registry)
                                    .Add({});
    shared_.requests = &prometheus::BuildCounter()
                            .Name("kiln_edge_http_requests_total")
                            .Help("HTTP requests by route and status code.")
                            .Register(registry);
  }

  absl::Status Listen() {
    const auto& o = shared_.options;
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
        return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
      }
      boost::system::error_code ec;
      ssl_ctx_.use_certificate_chain_file(o.tls_cert_file, ec);
      if (!ec) ssl_ctx_.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("cannot load TLS certificate/key: " + ec.message());
      tls_ = true;
    }
    size_t colon = o.address.rfind(':');
    int port = -1;
    if (colon == std::string::npos || !absl::SimpleAtoi(o.address.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError("HTTP address must be host:port, got " + o.address);
    }
    boost::system::error_code ec;
    std::string host = o.address.substr(0, colon);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    auto ip = net::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError("HTTP address host must be an IP address: " + host);
    tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError("cannot listen on " + o.address + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  void Serve() override {
    DoAccept();
    int n = std::max(1, shared_.options.threads);
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~HttpServerImpl() override { Stop(); }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec != net::error::operation_aborted) DoAccept();
        return;
      }
      s.set_option(tcp::no_delay(true), ec);
      if (tls_) {
        std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(s)), ssl_ctx_),
            shared_)
            ->Run();
      } else {
        std::make_shared<HttpSession<beast::tcp_stream>>(beast::tcp_stream(std::move(s)), shared_)
            ->Run();
      }
      DoAccept();
    });
  }

  // Sessions still queued in ioc_ use send_budget_ and shared_ when the io_context destroys
  // them, so those two are declared first: they outlive ioc_.
  SendBudget send_budget_;
  Shared shared_;
  net::io_context ioc_;
  ssl::context ssl_ctx_;
  tcp::acceptor acceptor_;
  bool tls_ = false;
  int port_ = 0;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Bind(
    const HttpServerOptions& options, MessageHandler& dispatcher, BlobClient& blobs,
    const UrlSigner& signer, LedgerFollowers& followers, const Clock& clock,
    prometheus::Registry& registry) {
  auto server = std::make_unique<HttpServerImpl>(options, dispatcher, blobs, signer, followers,
                                                 clock, registry);
  absl::Status s = server->Listen();
  if (!s.ok()) return s;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace kiln::edge
