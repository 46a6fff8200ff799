// The control API over TLS through real gRPC channels, with a PKI made by the openssl command at
// run time (tests/support/make_test_pki.sh): with mutual TLS a client whose certificate the
// operator's CA signed is served with no token; one without a certificate, with a certificate
// from another CA, or without TLS is refused in the handshake and never reaches a handler. With
// TLS and no client CA the bearer token still decides. Bad PEM is refused naming the part.
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/tls_credentials.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "services/control/control_service.h"
#include "tests/control/control_deployment.h"
#include "tests/integration/mesh.h"
#include "tests/support/test_support.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "."
#endif

namespace kiln::control {
namespace {

using ::testing::HasSubstr;

class ControlTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new testing::TempDir();
    std::string output;
    int status = testing::RunCommand(
        std::string(KILN_SOURCE_DIR) + "/tests/support/make_test_pki.sh " + pki_->path(), &output);
    ASSERT_EQ(status, 0) << "make_test_pki.sh failed: " << output;
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // A file of the PKI, e.g. Pem("client.key").
  static std::string Pem(const std::string& name) {
    std::ifstream in(pki_->path() + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Starts kiln-control's service over TLS: with `client_ca`, mutual TLS where a verified client
  // certificate is the credential (no token); without, the bearer token.
  void Start(bool client_ca) {
    auto credentials = TlsServerCredentials({.cert_chain = Pem("server.pem"),
                                             .private_key = Pem("server.key"),
                                             .client_ca = client_ca ? Pem("ca.pem") : ""});
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    control_.emplace(ControlDeploymentOptions{.admin_token = client_ca ? "" : kAdminToken,
                                              .client_certificates = client_ca,
                                              .issuer = nullptr,
                                              .credentials = *credentials});
  }

  // ListTenants over a channel with `credentials`, carrying the admin token when `token`.
  grpc::Status ListTenants(std::shared_ptr<grpc::ChannelCredentials> credentials,
                           bool token = false) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    auto stub = v1::ControlService::NewStub(
        grpc::CreateCustomChannel(control_->target(), credentials, args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (token) ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    v1::ListTenantsRequest request;
    v1::ListTenantsResponse response;
    return stub->ListTenants(&ctx, request, &response);
  }

  // TLS trusting the test CA, with the client certificate `name` (empty: none).
  static std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& name) {
    auto creds = TlsChannelCredentials({.server_ca = Pem("ca.pem"),
                                        .cert_chain = name.empty() ? "" : Pem(name + ".pem"),
                                        .private_key = name.empty() ? "" : Pem(name + ".key")});
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? *creds : nullptr;
  }

  static testing::TempDir* pki_;
  std::optional<ControlDeployment> control_;
};

testing::TempDir* ControlTlsTest::pki_ = nullptr;

TEST_F(ControlTlsTest, MutualTlsServesAClientCertificateFromTheCaWithoutAToken) {
  Start(/*client_ca=*/true);
  grpc::Status s = ListTenants(Tls("client"));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ControlTlsTest, MutualTlsRefusesAClientWithoutACertificateInTheHandshake) {
  Start(/*client_ca=*/true);
  // Refused before any handler runs, so even the admin token does not help.
  grpc::Status s = ListTenants(Tls(""), /*token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ControlTlsTest, MutualTlsRefusesACertificateFromAnotherCa) {
  Start(/*client_ca=*/true);
  grpc::Status s = ListTenants(Tls("other-client"), /*token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ControlTlsTest, MutualTlsRefusesAPlaintextClient) {
  Start(/*client_ca=*/true);
  grpc::Status s = ListTenants(grpc::InsecureChannelCredentials(), /*token=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ControlTlsTest, TlsWithoutClientCaStillNeedsTheBearerToken) {
  Start(/*client_ca=*/false);
  EXPECT_TRUE(ListTenants(Tls(""), /*token=*/true).ok());
  grpc::Status s = ListTenants(Tls(""), /*token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A client certificate is no credential when the server does not verify them.
  s = ListTenants(Tls("client"), /*token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ControlTlsTest, BadPemIsInvalidArgumentNamingThePart) {
  auto mismatched = TlsServerCredentials(
      {.cert_chain = Pem("server.pem"), .private_key = Pem("client.key"), .client_ca = ""});
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatched.status().message(), HasSubstr("does not belong"));
  auto no_ca = TlsServerCredentials({.cert_chain = Pem("server.pem"),
                                     .private_key = Pem("server.key"),
                                     .client_ca = "not a certificate"});
  EXPECT_EQ(no_ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_ca.status().message(), HasSubstr("client CA"));
  auto key_as_cert = TlsServerCredentials(
      {.cert_chain = Pem("server.key"), .private_key = Pem("server.key"), .client_ca = ""});
  EXPECT_EQ(key_as_cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key_as_cert.status().message(), HasSubstr("server certificate chain"));
  auto half = TlsChannelCredentials(
      {.server_ca = Pem("ca.pem"), .cert_chain = Pem("client.pem"), .private_key = ""});
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AdminAuthOptionsTest, NeitherCredentialIsInvalidArgument) {
  EXPECT_EQ(AdminAuth::Create("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AdminAuth::Create("", {.client_certificates = true}).ok());
}

}  // namespace
}  // namespace kiln::control
