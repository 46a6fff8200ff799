#include "common/service_main.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/flag_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

ServiceConfig ValidConfig() {
  ServiceConfig config;
  config.program = "kiln-test";
  config.grpc.grpc_address = "127.0.0.1:0";
  config.metrics_address = "127.0.0.1:0";
  return config;
}

TEST(ServiceConfigTest, DefaultsWithAProgramNameAreValid) {
  EXPECT_TRUE(ValidConfig().Validate().ok());
  ServiceConfig no_metrics = ValidConfig();
  no_metrics.metrics_address.clear();
  EXPECT_TRUE(no_metrics.Validate().ok());
}

TEST(ServiceConfigTest, UnusableFieldsAreInvalidArgumentNamingTheFlag) {
  ServiceConfig c = ValidConfig();
  c.grpc.grpc_address.clear();
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.Validate().message(), HasSubstr("--grpc_address"));

  c = ValidConfig();
  c.grpc.shutdown_grace = absl::Seconds(-1);
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.Validate().message(), HasSubstr("--shutdown_grace"));

  c = ValidConfig();
  c.metrics_address = "localhost";
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.Validate().message(), HasSubstr("--metrics_address"));

  c = ValidConfig();
  c.program.clear();
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);

  c = ValidConfig();
  c.grpc.max_receive_message_bytes = 0;
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadFlagFileTest, ReadsTheWholeFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/key";
  std::ofstream(path) << "line one\nline two\n";
  absl::StatusOr<std::string> text = ReadFlagFile(path, "key file");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "line one\nline two\n");
}

TEST(ReadFlagFileTest, MissingFileIsNotFoundNamingWhatAndPath) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/absent";
  absl::StatusOr<std::string> text = ReadFlagFile(path, "signing key file");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(text.status().message(), "cannot read signing key file " + path);
}

TEST(ReadFlagFileTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  testing::TempDir dir;
  const std::string path = dir.path() + "/secret";
  std::ofstream(path) << "x";
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  EXPECT_EQ(ReadFlagFile(path, "key file").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ServiceMainDeathTest, DieExitsWithStatusTwoAndTheProgramName) {
  EXPECT_EXIT(
      {
        ServiceMain process(ValidConfig());
        process.Die("--backend is required");
      },
      ::testing::ExitedWithCode(2), "kiln-test: --backend is required");
}

TEST(ServiceMainDeathTest, CheckOkPrefixesTheContext) {
  EXPECT_EXIT(
      {
        ServiceMain process(ValidConfig());
        process.CheckOk(absl::InvalidArgumentError("bad key"), "--token_public_key");
      },
      ::testing::ExitedWithCode(2), "kiln-test: --token_public_key: bad key");
}

TEST(ServiceMainDeathTest, InvalidConfigIsFatal) {
  ServiceConfig config = ValidConfig();
  config.grpc.grpc_address.clear();
  EXPECT_EXIT(ServiceMain{config}, ::testing::ExitedWithCode(2), "kiln-test: --grpc_address");
}

TEST(ServiceMainTest, StartGrpcBindsAPortAndServesMetrics) {
  ServiceMain process(ValidConfig());
  process.ServeMetrics();
  EXPECT_GT(process.metrics().port(), 0);
  EXPECT_EQ(process.grpc_port(), 0);
  process.StartGrpc({});
  EXPECT_GT(process.grpc_port(), 0);
  EXPECT_EQ(process.ValueOrDie(absl::StatusOr<int>(7)), 7);
}

}  // namespace
}  // namespace kiln
