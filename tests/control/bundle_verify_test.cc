// `kiln-admin bundle verify` as an operator runs it: exit status 0 only for an intact bundle,
// 1 naming the damaged part, 2 for a file or key file it cannot read; --json.
#include <fstream>
#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kiln/metadata/v1/metadata.pb.h"
#include "services/control/bundle.h"
#include "tests/support/test_support.h"

namespace kiln::control {
namespace {

using ::kiln::testing::RunCommand;
using ::testing::HasSubstr;

constexpr char kKeyHex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

class BundleVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_file_ = dir_.path() + "/export.key";
    std::ofstream(key_file_) << kKeyHex << "\n";
    LedgerBundle b;
    b.tenant = "t1";
    b.ledger = "l1";
    b.version = 1;
    b.blobs = {{"car", "baembeicar", "the car bytes"}};
    b.entries = {{"bafyentry", {}, "mAAAA"}};
    metadata::v1::LogRecord r;
    r.set_seq(1);
    r.add_entry_cids("bafyentry");
    b.log_records = {r.SerializeAsString()};
    b.log_head_sha256 = DigestBytes(Sha256(b.log_records[0]));
    b.keys = {"zkey"};
    std::string kek(32, '\0');
    for (int i = 0; i < 32; ++i) kek[i] = static_cast<char>((i % 16) * 0x11);
    bytes_ = *WriteBundle(b, *KeySealer::Create(kek));
    bundle_ = Write("good.car", bytes_);
  }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  int Verify(const std::string& args, std::string* output) {
    return RunCommand(
        kiln::testing::BinaryPath("services/admin/kiln-admin") + " bundle verify " + args, output);
  }

  kiln::testing::TempDir dir_;
  std::string key_file_, bundle_, bytes_;
};

TEST_F(BundleVerifyTest, IntactBundleExitsZero) {
  std::string out;
  EXPECT_EQ(Verify(bundle_, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("intact bundle of t1/l1"));
  EXPECT_EQ(Verify(bundle_ + " --key-file " + key_file_ + " --json", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"intact\":true"));
  EXPECT_THAT(out, HasSubstr("\"keys_opened\":true"));
}

TEST_F(BundleVerifyTest, ChangedByteExitsOneNamingThePart) {
  std::string bad = bytes_;
  bad[bad.find("the car bytes")] ^= 1;
  std::string out;
  EXPECT_EQ(Verify(Write("bad.car", bad) + " --json", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("blob car/baembeicar"));
  EXPECT_THAT(out, HasSubstr("\"intact\":false"));
}

TEST_F(BundleVerifyTest, WrongKeyFileExitsOne) {
  const std::string other = dir_.path() + "/other.key";
  std::ofstream(other) << std::string(64, 'f') << "\n";
  std::string out;
  EXPECT_EQ(Verify(bundle_ + " --key-file " + other, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("keys"));
}

TEST_F(BundleVerifyTest, MissingFileOrBadKeyFileExitsTwo) {
  std::string out;
  EXPECT_EQ(Verify(dir_.path() + "/nope.car", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("cannot open"));
  const std::string junk = Write("junk.key", "not a key");
  EXPECT_EQ(Verify(bundle_ + " --key-file " + junk, &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("key file"));
}

TEST_F(BundleVerifyTest, HelpExplainsTheCommand) {
  std::string out;
  EXPECT_EQ(Verify("--help", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("offline"));
}

}  // namespace
}  // namespace kiln::control
