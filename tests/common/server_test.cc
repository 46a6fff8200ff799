// The shared server bootstrap: health, reflection, per-RPC metrics and graceful shutdown.
#include "common/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "tests/support/test_support.h"

namespace kiln {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// A service that only exists to be registered: the health service itself is under test.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = GrpcServer::Start(ServerOptions{}, {}, metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = kiln::testing::LoopbackChannel("127.0.0.1:" + std::to_string(server_->port()));
  }

  grpc::Status Check(HealthCheckResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return Health::NewStub(channel_)->Check(&ctx, HealthCheckRequest(), response);
  }

  Metrics metrics_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerTest, HealthServiceReportsServing) {
  HealthCheckResponse response;
  grpc::Status s = Check(&response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST_F(ServerTest, ReflectionServiceAnswersListServices) {
  // grpc.reflection.v1alpha ServerReflectionInfo with list_services="" (field 7), sent as raw
  // bytes: Debian ships no reflection.proto.
  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const char req_bytes[] = {0x3a, 0x00};
  grpc::Slice slice(req_bytes, sizeof(req_bytes));
  grpc::ByteBuffer req(&slice, 1);
  call->Write(req, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string body;
  for (auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(body.find("grpc.health.v1.Health"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ServerTest, ShutdownMarksNotServingAndRefusesNewCalls) {
  server_->Shutdown();
  HealthCheckResponse response;
  grpc::Status s = Check(&response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, PerRpcMetricsUseGoGrpcPrometheusNames) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check(&response).ok());
  server_->Shutdown();  // every RPC's completion is recorded once the server has drained
  std::string text = prometheus::TextSerializer().Serialize(metrics_.registry().Collect());
  EXPECT_EQ(kiln::testing::MetricValue(
                text,
                "grpc_server_started_total{grpc_method=\"Check\",grpc_service=\"grpc.health.v1."
                "Health\",grpc_type=\"unary\"}"),
            1);
  EXPECT_EQ(
      kiln::testing::MetricValue(text,
                                 "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Check\","
                                 "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"}"),
      1);
  EXPECT_NE(text.find("grpc_server_handling_seconds_bucket"), std::string::npos);
}

// With max_connection_age the server closes each client connection after that age (GOAWAY), so
// clients reconnect (and re-resolve DNS); calls keep working across the reconnection.
TEST(ServerConnectionAgeTest, ServerEndsOldConnectionsAndClientsReconnect) {
  Metrics metrics;
  ServerOptions options;
  options.max_connection_age = absl::Milliseconds(200);
  options.shutdown_grace = absl::Milliseconds(100);
  auto server = GrpcServer::Start(options, {}, metrics);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = kiln::testing::LoopbackChannel("127.0.0.1:" + std::to_string((*server)->port()));
  auto check = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckResponse response;
    return Health::NewStub(channel)->Check(&ctx, HealthCheckRequest(), &response);
  };
  ASSERT_TRUE(check().ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The server ends the connection: the idle channel leaves READY (up to 30 s on a loaded host).
  bool left_ready = false;
  for (int i = 0; i < 300 && !left_ready; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left_ready = channel->GetState(false) != GRPC_CHANNEL_READY;
  }
  EXPECT_TRUE(left_ready) << "the connection outlived max_connection_age";
  grpc::Status again = check();
  EXPECT_TRUE(again.ok()) << again.error_message();
  (*server)->Shutdown();
}

TEST(ServerStartTest, PortHeldByAnotherSocketIsUnavailable) {
  // A listening socket without SO_REUSEPORT keeps gRPC (which sets it) from binding the port.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Metrics metrics;
  ServerOptions options;
  options.grpc_address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto server = GrpcServer::Start(options, {}, metrics);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  close(fd);
}

// A restart right after a stop gets the same metrics port again, even after a scrape left the
// connection in TIME_WAIT (tools/dev up started right after the previous one stopped).
TEST(MetricsTest, TheSamePortCanBeServedAgainRightAfterAStop) {
  int port = 0;
  {
    Metrics metrics;
    ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
    port = metrics.port();
    ASSERT_NE(kiln::testing::ScrapeMetrics(port), "");
  }
  Metrics again;
  absl::Status served = again.Serve("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(served.ok()) << served;
  EXPECT_NE(kiln::testing::ScrapeMetrics(port), "");
}

TEST(ReadyFileTest, WritesPortsAndReadyLine) {
  kiln::testing::TempDir dir;
  std::string path = dir.path() + "/ready";
  ASSERT_TRUE(WriteReadyFile(path, {{"grpc_port", 1234}, {"metrics_port", 5678}}).ok());
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "grpc_port=1234\nmetrics_port=5678\nready\n");
  EXPECT_EQ(WriteReadyFile(dir.path() + "/no/such/dir/ready", {}).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kiln
