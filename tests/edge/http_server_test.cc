// The edge's HTTP transport through a real socket with fakes behind it (no Beast in the test
// itself): fixed routes, an extra route added in one line, CORS preflight, a protocol message
// over PUT /fp and a blob refusal, each with the status and body the route table and the blob
// endpoint decide.
#include "services/edge/http_server.h"

#include <memory>
#include <string>

#include "common/http_client.h"
#include "gtest/gtest.h"
#include "services/edge/followers.h"
#include "tests/edge/fake_ledger_watcher.h"
#include "tests/support/fake_clock.h"

namespace kiln::edge {
namespace {

// Answers every protocol message with {"type":"resEcho"} (and bodies that are not JSON with 400).
class EchoHandler : public MessageHandler {
 public:
  void Handle(boost::json::object, const std::shared_ptr<ClientSession>&, Done done) override {
    done(Reply{boost::json::object{{"type", "resEcho"}}, 200});
  }
  Reply BadJson(const std::string& why) override {
    return Reply{boost::json::object{{"type", "error"}, {"message", why}}, 400};
  }
};

// A block-store that holds nothing.
class EmptyBlobs : public BlobClient {
 public:
  std::shared_ptr<BlobUpload> Upload(const BlobAddress&, uint64_t) override { return nullptr; }
  std::shared_ptr<BlobDownload> Download(const BlobAddress&) override { return nullptr; }
  void Stat(const BlobAddress&, Callback<std::optional<uint64_t>> done) override {
    done(std::optional<uint64_t>());
  }
  void Delete(const BlobAddress&, Callback<bool> done) override {
    done(absl::NotFoundError("no blob"));
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    options.threads = 1;
    options.extra_routes.push_back([] {
      Route r;
      r.path = "/.well-known/test.json";
      r.methods = {"GET"};
      r.label = "test";
      r.reply = [] { return HttpReply{200, "{\"keys\":[]}", "application/json"}; };
      return r;
    }());
    auto server =
        HttpServer::Bind(options, handler_, blobs_, signer_, followers_, clock_, registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->Serve();
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  HttpResponse Send(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    HttpRequest request;
    request.method = method;
    request.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    request.body = body;
    auto response = http_.Send(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : HttpResponse{};
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  EchoHandler handler_;
  EmptyBlobs blobs_;
  UrlSigner signer_{std::string(32, 's'), "http://127.0.0.1"};
  testing::FakeLedgerWatcher watcher_;
  LedgerFollowers followers_{watcher_, clock_, registry_};
  std::unique_ptr<HttpServer> server_;
  HttpClient http_{HttpClientOptions{}};
};

TEST_F(HttpServerTest, RoutesAnswerThroughTheSocket) {
  HttpResponse health = Send("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(health.Header("access-control-allow-origin"), "*");

  HttpResponse extra = Send("GET", "/.well-known/test.json");
  EXPECT_EQ(extra.status, 200);
  EXPECT_EQ(extra.body, "{\"keys\":[]}");
  EXPECT_EQ(extra.Header("content-type"), "application/json");

  EXPECT_EQ(Send("OPTIONS", "/fp").status, 204);
  HttpResponse missing = Send("GET", "/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "no such endpoint");
  EXPECT_EQ(Send("GET", "/fp").status, 405);
}

TEST_F(HttpServerTest, ProtocolMessageAndBlobRefusal) {
  HttpResponse fp = Send("PUT", "/fp", "{\"type\":\"reqAnything\"}");
  EXPECT_EQ(fp.status, 200);
  EXPECT_EQ(fp.body, "{\"type\":\"resEcho\"}");
  EXPECT_EQ(Send("PUT", "/fp", "not json").status, 400);

  HttpResponse blob = Send("GET", "/blob/t/l/car/k?exp=1&sig=00");
  EXPECT_EQ(blob.status, 403);
  BlobAddress address{{"t", "l"}, StoreKind::kCar, "k"};
  std::string url = signer_.Sign("DELETE", address, clock_.Now() + absl::Minutes(1));
  HttpResponse deleted = Send("DELETE", url.substr(std::string("http://127.0.0.1").size()));
  EXPECT_EQ(deleted.status, 404);
  EXPECT_EQ(deleted.body, "no blob");
}

}  // namespace
}  // namespace kiln::edge
