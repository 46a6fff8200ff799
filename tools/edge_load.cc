// kiln-edge-load: WebSocket load generator for kiln-edge that speaks the Fireproof cloud protocol
// the way the 0.24.19 client does: reqGestalt over HTTP (PUT /fp), then a WebSocket to /ws with
// reqOpen and bindGetMeta, then puts of real entries (dag-cbor events whose CARs were uploaded
// through the edge: reqPutData, HTTP PUT of the bytes to the signed URL, then reqPutMeta naming
// that CAR in dbMeta; each entry's parent is the writer's previous entry). A benchmark, not a
// test: it reports figures and never asserts on them.
//
//   --mode=fanout  --subscribers connections bind one ledger; one writer connection puts --puts
//                  entries, starting one every --interval (open loop by default). For every
//                  (put, subscriber) pair: the delay from the writer receiving resPutMeta to the
//                  subscriber receiving the eventGetMeta that carries the entry's CID (pushes
//                  that beat the ack count as 0 and are counted in before_ack), and from the
//                  reqPutMeta being sent. Pushes that never arrive are counted as missing.
//   --mode=puts    --writers connections each put closed-loop (--inflight at a time) for
//                  --duration over --ledgers ledgers (0: one ledger per writer); acked puts/s and
//                  errors by message.
//   --mode=idle    --connections connections do gestalt, open and bindGetMeta, then stay idle for
//                  --hold; --ready_file is written once all are bound (a script measures the
//                  edge's memory meanwhile).
//
// Threading: --threads io_contexts, each run by one thread (plus one more for the fanout writer);
// a connection lives on one of them, so its state needs no locks. The main thread starts work,
// waits, and reads the results after the I/O threads have been joined.
//
// Prints one line of key=value pairs on stdout (details on stderr). Exits 1 when a put failed or
// a push went missing, 2 on bad flags.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "boost/json.hpp"
#include "common/cid.h"
#include "common/meta_event.h"
#include "common/sha256.h"

ABSL_FLAG(std::string, mode, "fanout", "fanout, puts or idle.");
ABSL_FLAG(std::string, edge, "127.0.0.1:8787", "kiln-edge HTTP/WebSocket address, ip:port.");
ABSL_FLAG(std::string, token, "dev-token",
          "Sent as auth.params.jwk (any non-empty value works with --auth=none).");
ABSL_FLAG(std::string, tenant, "bench", "Tenant id.");
ABSL_FLAG(std::string, run_id, "", "Suffix for ledger names, so runs do not share ledgers.");
ABSL_FLAG(int, threads, 1, "I/O threads (one io_context each; connections are spread over them).");
ABSL_FLAG(int, subscribers, 1000, "fanout: subscribed connections on the one ledger.");
ABSL_FLAG(int, puts, 200, "fanout: entries the writer puts.");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(20), "fanout: time between put starts.");
ABSL_FLAG(bool, open_loop, true,
          "fanout: start every put on schedule without waiting for the previous one (the rate "
          "holds when a put takes longer than --interval); false: one put at a time.");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(5),
          "fanout: after the last ack, how long to wait for pushes still missing.");
ABSL_FLAG(int, writers, 50, "puts: writing connections.");
ABSL_FLAG(int, ledgers, 0,
          "puts/idle: ledgers the writers or connections are spread over; 0 = one each.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "puts: how long to put.");
ABSL_FLAG(int, inflight, 1, "puts: puts in flight per writing connection (closed loop).");
ABSL_FLAG(bool, car_per_put, false,
          "Upload a fresh CAR through the edge before every put (reqPutData + HTTP PUT), as a "
          "client does for every commit. Otherwise each writer uploads one CAR through the edge "
          "at the start and every entry names it.");
ABSL_FLAG(bool, writers_bind, true,
          "Writers send bindGetMeta too, as a client does (they then receive every change of "
          "their ledger).");
ABSL_FLAG(int, car_bytes, 1024, "Size of each uploaded CAR in bytes.");
ABSL_FLAG(int, connections, 1000, "idle: connections to open and hold.");
ABSL_FLAG(absl::Duration, hold, absl::Seconds(10),
          "idle: how long to hold them once all are bound.");
ABSL_FLAG(std::string, ready_file, "", "idle: written once every connection is bound.");
ABSL_FLAG(int, connect_batch, 100, "Connections set up concurrently.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Timeout of every request and connect.");

namespace kiln::tools {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using net::awaitable;

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr char kMsgVersion[] = "FP-MSG-1.0";
constexpr char kGatewayVersion[] = "v0.1-fp-cloud";

struct Options {
  std::string mode;
  tcp::endpoint edge;
  std::string host;  // "ip:port", for Host headers
  std::string token;
  std::string tenant;
  std::string run_id;
  int threads = 1;
  int subscribers = 0;
  int puts = 0;
  Clock::duration interval;
  Clock::duration drain;
  int writers = 0;
  int ledgers = 0;
  Clock::duration duration;
  int inflight = 1;
  bool car_per_put = false;
  bool open_loop = true;
  bool writers_bind = true;
  size_t car_bytes = 0;
  int connections = 0;
  Clock::duration hold;
  std::string ready_file;
  int connect_batch = 100;
  Clock::duration timeout;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

const json::object* Obj(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

std::string Str(const json::object* o, const char* key) {
  if (o == nullptr) return "";
  auto it = o->find(key);
  if (it == o->end() || !it->value().is_string()) return "";
  return std::string(it->value().get_string());
}

// Error messages name CIDs; group them by replacing long CID-like words.
std::string ErrorKind(absl::string_view message) {
  std::vector<std::string> words = absl::StrSplit(message, ' ');
  for (auto& w : words) {
    if (w.size() >= 40 && w[0] == 'b') w = "<cid>";
  }
  std::string out = absl::StrJoin(words, " ");
  return out.size() > 200 ? out.substr(0, 200) : out;
}

// CPU seconds this process has used so far (user + system).
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

rlim_t RaiseFileLimit() {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

// Bytes standing in for an (encrypted) CAR: unique per label, `size` long.
std::string MakeCar(const std::string& label, size_t size) {
  std::string bytes = label;
  bytes.resize(std::max(size, label.size()));
  for (size_t i = label.size(); i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>('a' + (i * 7 + label.size()) % 26);
  }
  return bytes;
}

// ----- HTTP ------------------------------------------------------------------------------------

struct HttpResult {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 connection to the edge (keep-alive when asked), one request at a time. Used for
// reqGestalt (as the client's fetch does) and for blob uploads to signed URLs.
class HttpClient {
 public:
  HttpClient(net::any_io_executor ex, const Options& o) : options_(o), stream_(ex) {}
  ~HttpClient() { Reset(); }

  awaitable<absl::StatusOr<HttpResult>> Send(http::verb verb, std::string target, std::string body,
                                             const char* content_type, bool keep_alive) {
    if (!connected_) {
      stream_.expires_after(options_.timeout);
      auto [ec] = co_await stream_.async_connect(options_.edge, kNoThrow);
      if (ec) co_return absl::UnavailableError("HTTP connect: " + ec.message());
      connected_ = true;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, options_.host);
    if (content_type != nullptr) req.set(http::field::content_type, content_type);
    req.keep_alive(keep_alive);
    req.body() = std::move(body);
    req.prepare_payload();
    stream_.expires_after(options_.timeout);
    auto [wec, wn] = co_await http::async_write(stream_, req, kNoThrow);
    if (wec) {
      Reset();
      co_return absl::UnavailableError("HTTP write: " + wec.message());
    }
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(stream_, buffer_, res, kNoThrow);
    if (rec) {
      Reset();
      co_return absl::UnavailableError("HTTP read: " + rec.message());
    }
    stream_.expires_never();
    if (!keep_alive || !res.keep_alive()) Reset();
    co_return HttpResult{static_cast<int>(res.result_int()), std::move(res.body())};
  }

 private:
  void Reset() {
    if (!connected_) return;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  const Options& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// ----- one protocol connection -----------------------------------------------------------------

// A reply to a request, and when its frame was read.
struct Reply {
  json::object msg;
  Clock::time_point at;
};

// One client connection: gestalt over HTTP, then a WebSocket carrying requests (matched to replies
// by tid, like the client) and pushes. Lives on one single-threaded io_context; every method must
// run there (Close posts itself).
class Conn {
 public:
  // Called for every eventGetMeta (the bind's first reply included) with the time it was read.
  using PushFn = std::function<void(const json::object& msg, Clock::time_point at)>;

  Conn(net::io_context& ioc, const Options& o, int id, std::string ledger)
      : options_(o), id_(id), ledger_(std::move(ledger)), ws_(ioc) {}

  net::any_io_executor executor() { return ws_.get_executor(); }
  const std::string& ledger() const { return ledger_; }
  int id() const { return id_; }
  // Safe from any thread; close_reason() and setup_failed() are final once closed() is true.
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  bool setup_failed() const { return setup_failed_; }
  const std::string& close_reason() const { return close_reason_; }
  uint64_t pushes() const { return pushes_; }
  uint64_t stray_errors() const { return stray_errors_; }
  const std::string& last_stray_error() const { return last_stray_error_; }
  void set_on_push(PushFn f) { on_push_ = std::move(f); }

  // Gestalt (HTTP), WebSocket handshake, reqOpen; then bindGetMeta when `bind`.
  awaitable<absl::Status> SetUp(bool bind) {
    absl::Status s = co_await Open();
    if (s.ok() && bind) s = co_await Bind();
    if (!s.ok()) {
      setup_failed_ = true;
      Fail("set-up failed: " + s.ToString());
      Close();
    }
    co_return s;
  }

  // Sends `msg` and waits for the reply with its tid and type `want`; an `error` reply with the
  // tid becomes UNKNOWN with the error's message, no reply within --timeout DEADLINE_EXCEEDED,
  // a closed connection UNAVAILABLE.
  awaitable<absl::StatusOr<Reply>> Request(json::object msg, const char* want) {
    if (closed_) co_return absl::UnavailableError("connection closed: " + close_reason_);
    std::string tid = Str(&msg, "tid");
    net::steady_timer timer(ws_.get_executor());
    timer.expires_after(options_.timeout);
    Pending p;
    p.want = want;
    p.timer = &timer;
    pending_[tid] = &p;
    Send(json::serialize(msg));
    if (!p.done) co_await timer.async_wait(kNoThrow);
    pending_.erase(tid);
    if (!p.done) co_return absl::DeadlineExceededError(absl::StrCat("no ", want, " in time"));
    if (!p.error.empty()) co_return absl::UnknownError(p.error);
    co_return Reply{std::move(p.reply), p.at};
  }

  // The envelope every message carries: tid, type, version, auth, and conn once open.
  json::object Envelope(const char* type, const char* version) {
    json::object m{{"tid", absl::StrCat(id_, "-", ++seq_)},
                   {"type", type},
                   {"version", version},
                   {"auth", json::object{{"type", "fp-cloud-jwk"},
                                         {"params", json::object{{"jwk", options_.token}}}}}};
    if (!res_id_.empty()) m["conn"] = json::object{{"reqId", req_id_}, {"resId", res_id_}};
    return m;
  }

  // A data or meta message (the client's buildReqSignedUrl shape).
  json::object LedgerMessage(const char* type, const char* version, const char* method,
                             const char* store, const std::string& key) {
    json::object m = Envelope(type, version);
    m["tenant"] = json::object{{"tenant", options_.tenant}, {"ledger", ledger_}};
    m["methodParam"] = json::object{{"method", method}, {"store", store}};
    m["urlParam"] = json::object{{"key", key},
                                 {"store", store},
                                 {"tenant", options_.tenant},
                                 {"ledger", ledger_},
                                 {"name", "toCloud"}};
    return m;
  }

  // Closes the socket (from any thread); pending requests fail.
  void Close() {
    net::post(ws_.get_executor(), [this] {
      closing_ = true;
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);
    });
  }

 private:
  struct Pending {
    const char* want = nullptr;
    net::steady_timer* timer = nullptr;
    bool done = false;
    json::object reply;
    Clock::time_point at;
    std::string error;
  };

  awaitable<absl::Status> Open() {
    {
      HttpClient http(ws_.get_executor(), options_);
      json::object g = Envelope("reqGestalt", kMsgVersion);
      g["gestalt"] = json::object{{"storeTypes", json::array{"meta", "file", "car", "wal"}},
                                  {"id", "FP-Universal-Client"},
                                  {"protocolCapabilities", json::array{"reqRes", "stream"}},
                                  {"httpEndpoints", json::array{"/fp"}},
                                  {"wsEndpoints", json::array{"/ws"}},
                                  {"encodings", json::array{"JSON"}},
                                  {"auth", json::array{}},
                                  {"requiresAuth", false},
                                  {"reqTypes", json::array{}},
                                  {"resTypes", json::array{}},
                                  {"eventTypes", json::array{}}};
      auto r =
          co_await http.Send(http::verb::put, "/fp", json::serialize(g), "application/json", false);
      if (!r.ok())
        co_return absl::UnavailableError("reqGestalt: " + std::string(r.status().message()));
      boost::system::error_code ec;
      json::value v = json::parse(r->body, ec);
      if (r->status != 200 || ec || !v.is_object() ||
          Str(&v.get_object(), "type") != "resGestalt") {
        co_return absl::UnavailableError(
            absl::StrCat("reqGestalt: HTTP ", r->status, ": ", r->body.substr(0, 200)));
      }
    }
    auto& stream = beast::get_lowest_layer(ws_);
    stream.expires_after(options_.timeout);
    auto [cec] = co_await stream.async_connect(options_.edge, kNoThrow);
    if (cec) co_return absl::UnavailableError("WebSocket connect: " + cec.message());
    beast::error_code ec;
    stream.socket().set_option(tcp::no_delay(true), ec);
    auto [hec] = co_await ws_.async_handshake(
        options_.host, absl::StrCat("/ws?random=", id_, "-", options_.run_id), kNoThrow);
    if (hec) co_return absl::UnavailableError("WebSocket handshake: " + hec.message());
    stream.expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.binary(true);  // the client sends binary frames holding UTF-8 JSON
    net::co_spawn(ws_.get_executor(), ReadLoop(), net::detached);

    req_id_ = absl::StrCat("load-", id_, options_.run_id);
    json::object open = Envelope("reqOpen", kMsgVersion);
    open["conn"] = json::object{{"reqId", req_id_}};
    auto r = co_await Request(std::move(open), "resOpen");
    if (!r.ok()) co_return absl::Status(r.status().code(), "reqOpen: " + r.status().ToString());
    res_id_ = Str(Obj(r->msg, "conn"), "resId");
    if (res_id_.empty()) co_return absl::UnavailableError("resOpen has no conn.resId");
    co_return absl::OkStatus();
  }

  // bindGetMeta; done at the first eventGetMeta (sent at once, even for an empty ledger).
  awaitable<absl::Status> Bind() {
    auto r = co_await Request(LedgerMessage("bindGetMeta", kGatewayVersion, "GET", "meta", "main"),
                              "eventGetMeta");
    if (!r.ok()) co_return absl::Status(r.status().code(), "bindGetMeta: " + r.status().ToString());
    co_return absl::OkStatus();
  }

  awaitable<void> ReadLoop() {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kNoThrow);
      Clock::time_point at = Clock::now();
      if (ec) {
        Fail(closing_ ? "closed by the load tool" : "read: " + ec.message());
        co_return;
      }
      boost::system::error_code jec;
      json::value v = json::parse(
          json::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()), jec);
      buffer.consume(buffer.size());
      if (jec || !v.is_object()) {
        ++stray_errors_;
        last_stray_error_ = "frame is not a JSON object";
        continue;
      }
      json::object& msg = v.get_object();
      std::string type = Str(&msg, "type");
      if (type == "eventGetMeta") {
        ++pushes_;
        if (on_push_) on_push_(msg, at);
      }
      auto it = pending_.find(Str(&msg, "tid"));
      if (it != pending_.end() && (type == it->second->want || type == "error")) {
        Pending* p = it->second;
        pending_.erase(it);
        p->done = true;
        p->at = at;
        if (type == "error") {
          p->error = Str(&msg, "message");
          if (p->error.empty()) p->error = "error without a message";
        } else {
          p->reply = std::move(msg);
        }
        p->timer->cancel();
      } else if (type == "error") {
        ++stray_errors_;  // e.g. "too many requests in flight", which carries no tid
        last_stray_error_ = Str(&msg, "message");
      }
    }
  }

  void Send(std::string text) {
    if (closed_) return;
    out_.push_back(std::move(text));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    writing_ = true;
    ws_.async_write(net::buffer(out_.front()), [this](beast::error_code ec, size_t) {
      writing_ = false;
      if (ec) {
        Fail("write: " + ec.message());
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        return;
      }
      out_.pop_front();
      if (!out_.empty() && !closed_) DoWrite();
    });
  }

  void Fail(const std::string& reason) {
    if (closed_.load()) return;
    close_reason_ = reason;
    closed_.store(true, std::memory_order_release);
    for (auto& [tid, p] : pending_) {
      p->done = true;
      p->error = "connection closed: " + reason;
      p->timer->cancel();
    }
    pending_.clear();
    if (!writing_) out_.clear();
  }

  const Options& options_;
  const int id_;
  const std::string ledger_;
  websocket::stream<beast::tcp_stream> ws_;
  std::string req_id_;
  std::string res_id_;
  uint64_t seq_ = 0;
  absl::flat_hash_map<std::string, Pending*> pending_;
  std::deque<std::string> out_;
  bool writing_ = false;
  std::atomic<bool> closed_{false};
  bool closing_ = false;
  bool setup_failed_ = false;
  std::string close_reason_;
  PushFn on_push_;
  uint64_t pushes_ = 0;
  uint64_t stray_errors_ = 0;
  std::string last_stray_error_;
};

// The writer's key, gossiped with every put as a client does ("z" + base58btc of 16 bytes).
std::string KeyFor(const std::string& label) {
  return "z" + HexEncode(DigestBytes(Sha256(label))).substr(0, 22);
}

json::object PutMetaMessage(Conn& c, const EncodedMetaEntry& e, const std::string& key) {
  json::object m = c.LedgerMessage("reqPutMeta", kMsgVersion, "PUT", "meta", "main");
  json::array parents;
  for (const auto& p : e.parents) parents.emplace_back(p);
  json::object entry{{"cid", e.cid}, {"parents", std::move(parents)}, {"data", e.data}};
  m["meta"] = json::object{{"metas", json::array{std::move(entry)}}, {"keys", json::array{key}}};
  return m;
}

// reqPutData for a CAR, then an HTTP PUT of `bytes` to the signed URL (on `http`, which talks to
// --edge: the URL's path and query are used, its host is the edge's public URL).
awaitable<absl::Status> UploadCar(Conn& c, HttpClient& http, const std::string& bytes,
                                  const std::string& cid) {
  auto r = co_await c.Request(c.LedgerMessage("reqPutData", kGatewayVersion, "PUT", "car", cid),
                              "resPutData");
  if (!r.ok()) co_return absl::Status(r.status().code(), "reqPutData: " + r.status().ToString());
  std::string url = Str(&r->msg, "signedUrl");
  size_t scheme = url.find("://");
  size_t path = scheme == std::string::npos ? scheme : url.find('/', scheme + 3);
  if (path == std::string::npos) co_return absl::UnknownError("resPutData: bad signedUrl " + url);
  auto res = co_await http.Send(http::verb::put, url.substr(path), bytes, nullptr, true);
  if (!res.ok())
    co_return absl::Status(res.status().code(), "blob PUT: " + res.status().ToString());
  if (res->status / 100 != 2) {
    co_return absl::UnknownError(
        absl::StrCat("blob PUT: HTTP ", res->status, " ", res->body.substr(0, 200)));
  }
  co_return absl::OkStatus();
}

// ----- threads and set-up ----------------------------------------------------------------------

class Runtime {
 public:
  explicit Runtime(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      iocs_.push_back(std::make_unique<net::io_context>(1));
      guards_.push_back(net::make_work_guard(*iocs_.back()));
    }
    for (auto& ioc : iocs_) threads_.emplace_back([io = ioc.get()] { io->run(); });
  }
  ~Runtime() {
    if (!threads_.empty()) {
      for (auto& ioc : iocs_) ioc->stop();
      Join();
    }
  }
  net::io_context& Next() { return *iocs_[next_++ % iocs_.size()]; }
  // Lets the threads finish once their work is done (close every connection first), joins them.
  void Join() {
    guards_.clear();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::vector<std::unique_ptr<net::io_context>> iocs_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  size_t next_ = 0;
};

using Conns = std::vector<std::unique_ptr<Conn>>;

// Sets up every connection, --connect_batch at a time. Returns how many failed (the first few
// are printed).
int SetUpAll(const Conns& conns, bool bind, int batch) {
  int failed = 0;
  for (size_t start = 0; start < conns.size(); start += static_cast<size_t>(batch)) {
    size_t n = std::min(conns.size() - start, static_cast<size_t>(batch));
    std::latch done(static_cast<ptrdiff_t>(n));
    std::vector<absl::Status> results(n);
    for (size_t i = 0; i < n; ++i) {
      Conn& c = *conns[start + i];
      net::co_spawn(c.executor(), c.SetUp(bind),
                    [&results, &done, i](std::exception_ptr e, absl::Status s) {
                      results[i] = e ? absl::InternalError("exception in set-up") : s;
                      done.count_down();
                    });
    }
    done.wait();
    for (const auto& s : results) {
      if (s.ok()) continue;
      if (++failed <= 5) std::fprintf(stderr, "set-up failed: %s\n", s.ToString().c_str());
    }
  }
  return failed;
}

void CloseAll(const Conns& conns) {
  for (const auto& c : conns) c->Close();
}

// Connections closed before the end, by reason (set-up failures are reported by SetUpAll).
std::map<std::string, int> EarlyCloses(const Conns& conns) {
  std::map<std::string, int> out;
  for (const auto& c : conns) {
    if (c->closed() && !c->setup_failed() && c->close_reason() != "closed by the load tool") {
      ++out[c->close_reason()];
    }
  }
  return out;
}

void PrintCounts(const char* what, const std::map<std::string, int>& counts) {
  for (const auto& [k, n] : counts) std::fprintf(stderr, "# %s x%d: %s\n", what, n, k.c_str());
}

// ----- fanout ----------------------------------------------------------------------------------

struct PlannedPut {
  std::string car_bytes;
  std::string car_cid;
  EncodedMetaEntry entry;
  Clock::time_point start, meta_sent, ack;  // put started (CAR upload), reqPutMeta sent, acked
  bool acked = false;
  std::string error;
};

// One put of the fanout writer: the CAR upload (--car_per_put), then reqPutMeta.
awaitable<void> FanoutPut(Conn& w, const Options& o, PlannedPut& p, const std::string& key) {
  p.start = Clock::now();
  if (o.car_per_put) {
    HttpClient http(w.executor(), o);
    absl::Status s = co_await UploadCar(w, http, p.car_bytes, p.car_cid);
    if (!s.ok()) {
      p.error = s.ToString();
      co_return;
    }
  }
  p.meta_sent = Clock::now();
  auto r = co_await w.Request(PutMetaMessage(w, p.entry, key), "resPutMeta");
  if (r.ok()) {
    p.ack = r->at;
    p.acked = true;
  } else {
    p.error = r.status().ToString();
  }
}

// Starts put i at start + i * --interval. Open loop (--open_loop): a put does not wait for the
// previous one, so the rate holds when a put takes longer than the interval.
awaitable<void> FanoutWriter(Conn& w, const Options& o, std::vector<PlannedPut>& puts) {
  const std::string key = KeyFor("fanout-writer" + o.run_id);
  net::steady_timer timer(w.executor());
  net::steady_timer all_done(w.executor(), Clock::time_point::max());
  size_t done = 0;
  Clock::time_point start = Clock::now();
  for (size_t i = 0; i < puts.size(); ++i) {
    timer.expires_at(start + static_cast<int>(i) * o.interval);
    co_await timer.async_wait(kNoThrow);
    if (!o.open_loop) {
      co_await FanoutPut(w, o, puts[i], key);
      ++done;
      continue;
    }
    net::co_spawn(w.executor(), FanoutPut(w, o, puts[i], key),
                  [&done, &all_done, n = puts.size()](std::exception_ptr) {
                    if (++done == n) all_done.cancel();
                  });
  }
  if (done < puts.size()) co_await all_done.async_wait(kNoThrow);
}

int RunFanout(const Options& o) {
  const std::string ledger = "fanout" + o.run_id;
  const int n = o.puts;
  // The writer's chain, built up front so subscribers can map CIDs to puts without locks.
  std::vector<PlannedPut> puts(n);
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < n; ++i) {
    PlannedPut& p = puts[i];
    if (o.car_per_put || i == 0) {
      p.car_bytes = MakeCar(absl::StrCat("edge-load fanout car ", ledger, " ", i), o.car_bytes);
      p.car_cid = CidForSha256(kCodecFireproofCar, p.car_bytes).ToString();
    } else {
      p.car_cid = puts[0].car_cid;
    }
    std::vector<Cid> parents;
    if (i > 0) parents.push_back(*ParseCid(puts[i - 1].entry.cid));
    p.entry = EncodeMetaEntry({*ParseCid(p.car_cid)}, parents);
    index[p.entry.cid] = i;
  }

  Runtime rt(o.threads);
  // The writer gets a thread of its own, so that its acknowledgements are timestamped when they
  // arrive, not after the subscribers' pushes queued on the same thread.
  Runtime writer_rt(1);
  Conns subs;
  // got[s][i]: when subscriber s received put i (epoch = not received).
  std::vector<std::vector<Clock::time_point>> got(o.subscribers, std::vector<Clock::time_point>(n));
  std::vector<uint64_t> duplicates(o.subscribers, 0);
  std::atomic<uint64_t> delivered{0};
  for (int s = 0; s < o.subscribers; ++s) {
    subs.push_back(std::make_unique<Conn>(rt.Next(), o, s, ledger));
    subs.back()->set_on_push([&, s](const json::object& msg, Clock::time_point at) {
      const json::object* meta = Obj(msg, "meta");
      if (meta == nullptr) return;
      auto metas = meta->find("metas");
      if (metas == meta->end() || !metas->value().is_array()) return;
      for (const auto& m : metas->value().get_array()) {
        if (!m.is_object()) continue;
        auto it = index.find(Str(&m.get_object(), "cid"));
        if (it == index.end()) continue;
        Clock::time_point& slot = got[s][it->second];
        if (slot != Clock::time_point()) {
          ++duplicates[s];
          continue;
        }
        slot = at;
        delivered.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  Conns writer_conns;
  writer_conns.push_back(std::make_unique<Conn>(writer_rt.Next(), o, o.subscribers, ledger));
  Conn& writer = *writer_conns[0];

  auto setup_start = Clock::now();
  int failed = SetUpAll(subs, true, o.connect_batch);
  failed += SetUpAll(writer_conns, o.writers_bind, 1);
  double setup_secs = std::chrono::duration<double>(Clock::now() - setup_start).count();
  std::fprintf(stderr, "# %d subscribers + 1 writer set up in %.2f s (%d failed)\n", o.subscribers,
               setup_secs, failed);
  // Every exit closes the connections and joins the I/O threads before the state they use goes.
  auto stop = [&] {
    CloseAll(subs);
    CloseAll(writer_conns);
    rt.Join();
    writer_rt.Join();
  };
  if (writer.closed()) {
    std::fprintf(stderr, "the writer could not connect\n");
    stop();
    return 1;
  }
  if (!o.car_per_put) {
    // One CAR for every entry, uploaded through the edge before the timed part.
    std::latch up(1);
    absl::Status status;
    auto upload = [](Conn& w, const Options& o, const PlannedPut& p) -> awaitable<absl::Status> {
      HttpClient http(w.executor(), o);
      co_return co_await UploadCar(w, http, p.car_bytes, p.car_cid);
    };
    net::co_spawn(writer.executor(), upload(writer, o, puts[0]),
                  [&](std::exception_ptr, absl::Status s) {
                    status = s;
                    up.count_down();
                  });
    up.wait();
    if (!status.ok()) {
      std::fprintf(stderr, "CAR upload failed: %s\n", status.ToString().c_str());
      stop();
      return 1;
    }
  }

  double cpu0 = CpuSeconds();
  std::latch writer_done(1);
  auto put_start = Clock::now();
  net::co_spawn(writer.executor(), FanoutWriter(writer, o, puts),
                [&](std::exception_ptr) { writer_done.count_down(); });
  writer_done.wait();
  double put_secs = std::chrono::duration<double>(Clock::now() - put_start).count();
  uint64_t acked = 0;
  std::map<std::string, int> put_errors;
  for (const auto& p : puts) {
    if (p.acked) {
      ++acked;
    } else {
      ++put_errors[ErrorKind(p.error)];
    }
  }
  int live_subs = 0;
  for (const auto& s : subs) live_subs += s->closed() ? 0 : 1;
  // Wait for the pushes still on their way (or until --drain has passed).
  const uint64_t want = acked * static_cast<uint64_t>(o.subscribers - failed);
  auto drain_end = Clock::now() + o.drain;
  while (delivered.load() < want && Clock::now() < drain_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double tool_cpu =
      (CpuSeconds() - cpu0) / std::chrono::duration<double>(Clock::now() - put_start).count();
  auto early = EarlyCloses(subs);
  stop();

  std::vector<double> delays, from_send, put_ms, upload_ms;
  uint64_t missing = 0, before_ack = 0, dups = 0;
  int subs_missing = 0;
  for (const auto& p : puts) {
    if (!p.acked) continue;
    put_ms.push_back(Ms(p.ack - p.meta_sent));
    if (o.car_per_put) upload_ms.push_back(Ms(p.meta_sent - p.start));
  }
  for (int s = 0; s < o.subscribers; ++s) {
    dups += duplicates[s];
    bool any_missing = false;
    for (int i = 0; i < n; ++i) {
      if (!puts[i].acked) continue;
      if (got[s][i] == Clock::time_point()) {
        ++missing;
        any_missing = true;
        continue;
      }
      from_send.push_back(Ms(got[s][i] - puts[i].meta_sent));
      double ms = Ms(got[s][i] - puts[i].ack);
      if (ms < 0) {
        ++before_ack;  // the push beat the writer's acknowledgement
        ms = 0;
      }
      delays.push_back(ms);
    }
    subs_missing += any_missing ? 1 : 0;
  }
  const uint64_t expected = acked * static_cast<uint64_t>(o.subscribers);
  double p50 = Percentile(delays, 0.50), p90 = Percentile(delays, 0.90);
  double p99 = Percentile(delays, 0.99);
  double max = delays.empty() ? 0 : delays.back();
  double send_p50 = Percentile(from_send, 0.50), send_p99 = Percentile(from_send, 0.99);
  double put_p50 = Percentile(put_ms, 0.50), put_p99 = Percentile(put_ms, 0.99);
  double upload_p50 = Percentile(upload_ms, 0.50), upload_p99 = Percentile(upload_ms, 0.99);
  PrintCounts("put error", put_errors);
  PrintCounts("subscriber closed early", early);
  // p50..max count from the writer's resPutMeta (pushes that beat it count as 0, see
  // before_ack); send_* from the moment the reqPutMeta was sent; put_* is the writer's
  // reqPutMeta -> resPutMeta time; upload_* the CAR upload before it (reqPutData + blob PUT).
  std::printf(
      "mode=fanout subscribers=%d setup_failed=%d live_at_end=%d puts=%d acked=%llu "
      "put_errors=%llu put_secs=%.2f open_loop=%d car_per_put=%d expected=%llu received=%zu "
      "missing=%llu "
      "subscribers_missing=%d duplicates=%llu before_ack=%llu p50_ms=%.2f p90_ms=%.2f "
      "p99_ms=%.2f max_ms=%.2f send_p50_ms=%.2f send_p99_ms=%.2f put_p50_ms=%.2f put_p99_ms=%.2f "
      "upload_p50_ms=%.2f upload_p99_ms=%.2f threads=%d tool_cpu=%.2f\n",
      o.subscribers, failed, live_subs, n, static_cast<unsigned long long>(acked),
      static_cast<unsigned long long>(n - acked), put_secs, o.open_loop ? 1 : 0,
      o.car_per_put ? 1 : 0, static_cast<unsigned long long>(expected), delays.size(),
      static_cast<unsigned long long>(missing), subs_missing, static_cast<unsigned long long>(dups),
      static_cast<unsigned long long>(before_ack), p50, p90, p99, max, send_p50, send_p99, put_p50,
      put_p99, upload_p50, upload_p99, o.threads, tool_cpu);
  return acked == static_cast<uint64_t>(n) && missing == 0 && failed == 0 ? 0 : 1;
}

// ----- puts ------------------------------------------------------------------------------------

// One writing connection's chain and counters (touched only on its io_context).
struct Writer {
  std::string label;
  std::string key;
  std::string car_cid;  // the CAR every entry names, unless --car_per_put
  std::string last_cid;
  uint64_t seq = 0;
  uint64_t acked = 0;
  uint64_t late = 0;  // acked after the end of --duration (not counted)
  std::vector<double> latencies;
  std::map<std::string, int> errors;
};

awaitable<absl::Status> WriterSetUp(Conn& c, const Options& o, Writer& w) {
  absl::Status s = co_await c.SetUp(o.writers_bind);
  if (!s.ok() || o.car_per_put) co_return s;
  HttpClient http(c.executor(), o);
  std::string bytes = MakeCar("edge-load car " + w.label, o.car_bytes);
  w.car_cid = CidForSha256(kCodecFireproofCar, bytes).ToString();
  co_return co_await UploadCar(c, http, bytes, w.car_cid);
}

awaitable<void> PutLoop(Conn& c, const Options& o, Writer& w, Clock::time_point end) {
  HttpClient http(c.executor(), o);
  while (Clock::now() < end && !c.closed()) {
    Clock::time_point start = Clock::now();
    std::string car = w.car_cid;
    if (o.car_per_put) {
      std::string bytes =
          MakeCar(absl::StrCat("edge-load car ", w.label, " ", ++w.seq), o.car_bytes);
      car = CidForSha256(kCodecFireproofCar, bytes).ToString();
      absl::Status s = co_await UploadCar(c, http, bytes, car);
      if (!s.ok()) {
        ++w.errors[ErrorKind(s.ToString())];
        continue;
      }
    }
    std::vector<Cid> parents;
    if (!w.last_cid.empty()) parents.push_back(*ParseCid(w.last_cid));
    EncodedMetaEntry e = EncodeMetaEntry({*ParseCid(car)}, parents);
    w.last_cid = e.cid;
    auto r = co_await c.Request(PutMetaMessage(c, e, w.key), "resPutMeta");
    if (!r.ok()) {
      ++w.errors[ErrorKind(r.status().ToString())];
      continue;
    }
    if (r->at > end) {
      ++w.late;
      continue;
    }
    ++w.acked;
    w.latencies.push_back(Ms(r->at - start));
  }
}

int RunPuts(const Options& o) {
  const int ledgers = o.ledgers > 0 ? o.ledgers : o.writers;
  Runtime rt(o.threads);
  Conns conns;
  std::vector<Writer> writers(o.writers);
  for (int i = 0; i < o.writers; ++i) {
    std::string ledger = absl::StrCat("puts-", i % ledgers, o.run_id);
    writers[i].label = absl::StrCat(ledger, "/writer-", i);
    writers[i].key = KeyFor(writers[i].label);
    conns.push_back(std::make_unique<Conn>(rt.Next(), o, i, ledger));
  }
  auto setup_start = Clock::now();
  int failed = 0;
  {
    std::latch done(o.writers);
    std::vector<absl::Status> results(o.writers);
    for (int i = 0; i < o.writers; ++i) {
      net::co_spawn(conns[i]->executor(), WriterSetUp(*conns[i], o, writers[i]),
                    [&results, &done, i](std::exception_ptr e, absl::Status s) {
                      results[i] = e ? absl::InternalError("exception in set-up") : s;
                      done.count_down();
                    });
    }
    done.wait();
    for (const auto& s : results) {
      if (!s.ok() && ++failed <= 5)
        std::fprintf(stderr, "set-up failed: %s\n", s.ToString().c_str());
    }
  }
  std::fprintf(stderr, "# %d writers over %d ledgers set up in %.2f s (%d failed)\n", o.writers,
               ledgers, std::chrono::duration<double>(Clock::now() - setup_start).count(), failed);

  double cpu0 = CpuSeconds();
  Clock::time_point start = Clock::now();
  Clock::time_point end = start + o.duration;
  std::latch done(static_cast<ptrdiff_t>(o.writers) * o.inflight);
  for (int i = 0; i < o.writers; ++i) {
    for (int k = 0; k < o.inflight; ++k) {
      net::co_spawn(conns[i]->executor(), PutLoop(*conns[i], o, writers[i], end),
                    [&done](std::exception_ptr) { done.count_down(); });
    }
  }
  done.wait();
  double tool_cpu =
      (CpuSeconds() - cpu0) / std::chrono::duration<double>(Clock::now() - start).count();
  auto early = EarlyCloses(conns);
  CloseAll(conns);
  rt.Join();
  uint64_t pushes = 0, stray = 0;
  for (const auto& c : conns) {
    pushes += c->pushes();
    stray += c->stray_errors();
    if (c->stray_errors() > 0) {
      std::fprintf(stderr, "# stray error: %s\n", c->last_stray_error().c_str());
    }
  }

  double secs = std::chrono::duration<double>(o.duration).count();
  uint64_t acked = 0, late = 0, errors = 0;
  std::vector<double> all;
  std::map<std::string, int> error_kinds;
  for (auto& w : writers) {
    acked += w.acked;
    late += w.late;
    all.insert(all.end(), w.latencies.begin(), w.latencies.end());
    for (const auto& [k, n] : w.errors) {
      error_kinds[k] += n;
      errors += static_cast<uint64_t>(n);
    }
  }
  PrintCounts("put error", error_kinds);
  PrintCounts("writer closed early", early);
  double p50 = Percentile(all, 0.50), p99 = Percentile(all, 0.99);
  std::printf(
      "mode=puts writers=%d ledgers=%d inflight=%d car_per_put=%d writers_bind=%d setup_failed=%d "
      "acked=%llu secs=%.2f puts_per_sec=%.1f p50_ms=%.2f p99_ms=%.2f errors=%llu "
      "error_kinds=%zu late=%llu pushes_received=%llu threads=%d tool_cpu=%.2f\n",
      o.writers, ledgers, o.inflight, o.car_per_put ? 1 : 0, o.writers_bind ? 1 : 0, failed,
      static_cast<unsigned long long>(acked), secs, static_cast<double>(acked) / secs, p50, p99,
      static_cast<unsigned long long>(errors), error_kinds.size(),
      static_cast<unsigned long long>(late), static_cast<unsigned long long>(pushes), o.threads,
      tool_cpu);
  return errors == 0 && failed == 0 && stray == 0 ? 0 : 1;
}

// ----- idle ------------------------------------------------------------------------------------

int RunIdle(const Options& o) {
  const int ledgers = o.ledgers > 0 ? o.ledgers : o.connections;
  Runtime rt(o.threads);
  Conns conns;
  for (int i = 0; i < o.connections; ++i) {
    conns.push_back(
        std::make_unique<Conn>(rt.Next(), o, i, absl::StrCat("idle-", i % ledgers, o.run_id)));
  }
  auto start = Clock::now();
  int failed = SetUpAll(conns, true, o.connect_batch);
  double setup_secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr,
               "# %d of %d connections bound over %d ledgers in %.2f s; holding for %.1f s\n",
               o.connections - failed, o.connections, ledgers, setup_secs,
               std::chrono::duration<double>(o.hold).count());
  if (!o.ready_file.empty()) {
    std::ofstream(o.ready_file) << "connected=" << (o.connections - failed) << "\n";
  }
  std::this_thread::sleep_for(o.hold);
  int open = 0;
  for (const auto& c : conns) open += c->closed() ? 0 : 1;
  auto early = EarlyCloses(conns);
  CloseAll(conns);
  rt.Join();
  PrintCounts("connection closed early", early);
  std::printf(
      "mode=idle connections=%d connected=%d failed=%d ledgers=%d setup_secs=%.2f open_at_end=%d "
      "threads=%d\n",
      o.connections, o.connections - failed, failed, ledgers, setup_secs, open, o.threads);
  return failed == 0 && open == o.connections ? 0 : 1;
}

}  // namespace
}  // namespace kiln::tools

int main(int argc, char** argv) {
  using kiln::tools::Options;
  absl::SetProgramUsageMessage(
      "WebSocket load generator for kiln-edge (a benchmark).\n"
      "  kiln-edge-load --edge=127.0.0.1:8787 --mode=fanout|puts|idle");
  absl::ParseCommandLine(argc, argv);
  auto die = [](const std::string& m) {
    std::fprintf(stderr, "kiln-edge-load: %s\n", m.c_str());
    return 2;
  };
  Options o;
  o.mode = absl::GetFlag(FLAGS_mode);
  o.host = absl::GetFlag(FLAGS_edge);
  size_t colon = o.host.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(o.host.substr(colon + 1), &port) ||
      port <= 0 || port > 65535) {
    return die("--edge must be ip:port, got " + o.host);
  }
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(o.host.substr(0, colon), ec);
  if (ec) return die("--edge host must be an IP address: " + o.host);
  o.edge = boost::asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
  o.token = absl::GetFlag(FLAGS_token);
  o.tenant = absl::GetFlag(FLAGS_tenant);
  o.run_id = absl::GetFlag(FLAGS_run_id);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.subscribers = absl::GetFlag(FLAGS_subscribers);
  o.puts = absl::GetFlag(FLAGS_puts);
  o.interval = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_interval));
  o.drain = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_drain));
  o.writers = absl::GetFlag(FLAGS_writers);
  o.ledgers = absl::GetFlag(FLAGS_ledgers);
  o.duration = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  o.inflight = absl::GetFlag(FLAGS_inflight);
  o.car_per_put = absl::GetFlag(FLAGS_car_per_put);
  o.open_loop = absl::GetFlag(FLAGS_open_loop);
  o.writers_bind = absl::GetFlag(FLAGS_writers_bind);
  o.car_bytes = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_car_bytes)));
  o.connections = absl::GetFlag(FLAGS_connections);
  o.hold = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_hold));
  o.ready_file = absl::GetFlag(FLAGS_ready_file);
  o.connect_batch = std::max(1, absl::GetFlag(FLAGS_connect_batch));
  o.timeout = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_timeout));
  if (o.token.empty()) return die("--token must not be empty");
  if (o.threads < 1 || o.subscribers < 0 || o.puts < 1 || o.writers < 1 || o.ledgers < 0 ||
      o.inflight < 1 || o.connections < 1) {
    return die("counts must be positive");
  }
  rlim_t files = kiln::tools::RaiseFileLimit();
  int need = o.mode == "fanout" ? o.subscribers + 1
             : o.mode == "puts" ? 2 * o.writers * o.inflight
                                : o.connections;
  if (files < static_cast<rlim_t>(need + 64)) {
    std::fprintf(stderr, "# warning: RLIMIT_NOFILE is %llu, below the %d connections needed\n",
                 static_cast<unsigned long long>(files), need);
  }
  if (o.mode == "fanout") return kiln::tools::RunFanout(o);
  if (o.mode == "puts") return kiln::tools::RunPuts(o);
  if (o.mode == "idle") return kiln::tools::RunIdle(o);
  return die("--mode must be fanout, puts or idle");
}
