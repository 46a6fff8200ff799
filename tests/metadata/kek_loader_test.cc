#include "services/metadata/kek_loader.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using ::testing::HasSubstr;

const std::string kHexKek(64, 'a');
const std::string kOtherHexKek(64, 'b');

std::string WriteFile(const testing::TempDir& dir, const std::string& name,
                      const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(KekLoaderTest, FileWinsOverTheEnvironment) {
  testing::TempDir dir;
  KekSources sources;
  sources.kek_file = WriteFile(dir, "kek", kHexKek + "\n");
  sources.kek_env = "KILN_KEK";
  sources.kek_env_value = "not a key";
  absl::StatusOr<KeySealer> sealer = LoadKeySealer(sources);
  ASSERT_TRUE(sealer.ok()) << sealer.status();
  EXPECT_FALSE(sealer->has_previous());
}

TEST(KekLoaderTest, EnvironmentValueIsUsedWithoutAFile) {
  KekSources sources;
  sources.kek_env = "KILN_KEK";
  sources.kek_env_value = kHexKek;
  EXPECT_TRUE(LoadKeySealer(sources).ok());
}

TEST(KekLoaderTest, NoSourceIsInvalidArgumentNamingTheOptions) {
  KekSources sources;
  sources.kek_env = "KILN_KEK";
  absl::StatusOr<KeySealer> sealer = LoadKeySealer(sources);
  EXPECT_EQ(sealer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sealer.status().message(), HasSubstr("$KILN_KEK"));
  EXPECT_THAT(sealer.status().message(), HasSubstr("--insecure_dev_kek"));
}

TEST(KekLoaderTest, InsecureDevelopmentKeyOnlyWhenAskedFor) {
  KekSources sources;
  sources.insecure_dev_kek = true;
  EXPECT_TRUE(LoadKeySealer(sources).ok());
}

TEST(KekLoaderTest, MissingKekFileIsNotFound) {
  testing::TempDir dir;
  KekSources sources;
  sources.kek_file = dir.path() + "/absent";
  absl::StatusOr<KeySealer> sealer = LoadKeySealer(sources);
  EXPECT_EQ(sealer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(sealer.status().message(), HasSubstr("--kek_file"));
}

TEST(KekLoaderTest, MalformedKekIsInvalidArgument) {
  KekSources sources;
  sources.kek_env = "KILN_KEK";
  sources.kek_env_value = "short";
  EXPECT_EQ(LoadKeySealer(sources).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KekLoaderTest, PreviousKeksAreLoadedAndAMalformedOneIsNamed) {
  testing::TempDir dir;
  KekSources sources;
  sources.kek_env = "KILN_KEK";
  sources.kek_env_value = kHexKek;
  sources.previous_kek_files = {WriteFile(dir, "old", kOtherHexKek)};
  absl::StatusOr<KeySealer> sealer = LoadKeySealer(sources);
  ASSERT_TRUE(sealer.ok()) << sealer.status();
  EXPECT_TRUE(sealer->has_previous());

  const std::string bad = WriteFile(dir, "bad", "nope");
  sources.previous_kek_files = {bad};
  sealer = LoadKeySealer(sources);
  EXPECT_EQ(sealer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sealer.status().message(), HasSubstr(bad + ": "));

  sources.previous_kek_files = {dir.path() + "/absent"};
  EXPECT_EQ(LoadKeySealer(sources).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln::metadata
