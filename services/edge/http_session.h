// The HTTP session template behind http_sessions.h. Internal to the edge's HTTP transport:
// included only by http_session_plain.cc and http_session_tls.cc, one instantiation each
// (Beast's templates make these translation units slow to compile; the WebSocket session
// compiles separately, ws_session.h).
//
// The session is transport only: the route table (routes.h) decides what a request is for, the
// blob endpoint (blob_endpoint.h) decides blob replies, the message handler answers protocol
// messages. Threading: each connection runs on its own strand; completions from gRPC threads are
// posted back to it, and nothing blocks.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/beast/websocket/rfc6455.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "services/edge/base_path.h"
#include "services/edge/beast_util.h"

namespace kiln::edge::http_internal {

namespace websocket = beast::websocket;

inline constexpr size_t kBlobChunk = 256 << 10;

// ----- HTTP connections ------------------------------------------------------------------------

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, Shared& shared) : stream_(std::move(stream)), shared_(shared) {
    shared_.http_connections->Increment();
  }
  ~HttpSession() { shared_.http_connections->Decrement(); }

  // Serves requests until the peer closes, after `handshake(stream, then)` (which runs
  // then(error_code) once the stream is ready for HTTP).
  template <class Handshake>
  void Run(Handshake handshake) {
    handshake(stream_, [self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->DoRead();
    });
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
    RouteMatch route =
        shared_.routes.Find(std::string(req.method_string()), path, websocket::is_upgrade(req));
    switch (route.handler) {
      case RouteHandler::kWebSocket:
        Count(route.label, 101);
        StartWebSocket<Stream>(std::move(stream_), shared_, header_->release());
        return;
      case RouteHandler::kProtocol:
        return ReadProtocolBody();
      case RouteHandler::kBlob:
        return HandleBlob(std::string(req.method_string()), target);
      case RouteHandler::kFixed:
        return SendReply(route.reply, route.label);
    }
  }

  // ----- protocol messages over HTTP -----

  void ReadProtocolBody() {
    boost::optional<uint64_t> length = header_->content_length();
    if (length.has_value() && *length > shared_.options.max_message_bytes) {
      return SendJson(shared_.dispatcher.BadJson(absl::StrCat(
          "message is ", *length, " bytes; the limit is ", shared_.options.max_message_bytes)));
    }
    body_.emplace(std::move(*header_));
    body_->body_limit(shared_.options.max_message_bytes);
    http::async_read(stream_, buffer_, *body_,
                     beast::bind_front_handler(&HttpSession::OnFpBody, this->shared_from_this()));
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

  // ----- blobs: bytes in and out; the endpoint decides every reply -----

  // Runs `fn` on this connection's strand (for callbacks from gRPC threads).
  template <class Fn>
  void Post(Fn fn) {
    net::post(stream_.get_executor(), std::move(fn));
  }

  void HandleBlob(const std::string& method, const std::string& target) {
    auto opened = shared_.blobs.Open(method, target);
    if (auto* reply = std::get_if<HttpReply>(&opened)) return SendReply(*reply, "blob");
    auto& request = std::get<BlobEndpoint::Request>(opened);
    blob_ = std::move(request.blob);
    auto self = this->shared_from_this();
    switch (request.method) {
      case BlobEndpoint::Method::kPut:
        return StartUpload();
      case BlobEndpoint::Method::kGet:
        download_ = shared_.blobs.BeginDownload(blob_);
        return download_->Next([self](absl::StatusOr<std::optional<BlobDownload::Chunk>> r) {
          self->Post([self, r = std::move(r)]() mutable { self->OnFirstChunk(std::move(r)); });
        });
      case BlobEndpoint::Method::kHead:
        return shared_.blobs.Head(blob_, [self](std::variant<uint64_t, HttpReply> r) {
          self->Post([self, r = std::move(r)]() {
            if (auto* reply = std::get_if<HttpReply>(&r)) return self->SendReply(*reply, "blob");
            self->SendHead(std::get<uint64_t>(r));
          });
        });
      case BlobEndpoint::Method::kDelete:
        return shared_.blobs.Delete(blob_, [self](HttpReply reply) {
          self->Post([self, reply = std::move(reply)]() { self->SendReply(reply, "blob"); });
        });
    }
  }

  void StartUpload() {
    auto begun =
        shared_.blobs.BeginUpload(blob_, header_->content_length().has_value()
                                             ? std::optional<uint64_t>(*header_->content_length())
                                             : std::nullopt);
    if (auto* reply = std::get_if<HttpReply>(&begun)) return SendReply(*reply, "blob");
    upload_ = std::get<std::shared_ptr<BlobUpload>>(std::move(begun));
    upload_body_.emplace(std::move(*header_));
    upload_body_->body_limit(shared_.blobs.max_blob_bytes());
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
    shared_.blobs.FinishUpload(*upload_, blob_, [self](HttpReply reply) {
      self->Post([self, reply = std::move(reply)]() { self->SendReply(reply, "blob"); });
    });
  }

  void OnFirstChunk(absl::StatusOr<std::optional<BlobDownload::Chunk>> r) {
    if (!r.ok()) return SendReply(ReplyFor(r.status()), "blob");
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

  void SendReply(const HttpReply& reply, absl::string_view route) {
    Count(route, reply.status);
    Send(static_cast<http::status>(reply.status), reply.body, reply.content_type);
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

  void Send(http::status status, std::string body, absl::string_view content_type) {
    auto [version, keep_alive] = VersionAndKeepAlive();
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, "kiln-edge");
    if (!body.empty()) {
      res->set(http::field::content_type,
               beast::string_view(content_type.data(), content_type.size()));
    }
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

  void Count(absl::string_view route, int code) { shared_.requests->For(route, code).Increment(); }

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

}  // namespace kiln::edge::http_internal
