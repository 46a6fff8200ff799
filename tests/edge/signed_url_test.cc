#include "services/edge/signed_url.h"

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::string TargetOf(const std::string& url, const std::string& base) {
  return url.substr(base.size());
}

TEST(UrlSignerTest, SignedUrlVerifiesForItsMethodAndAddress) {
  UrlSigner signer(std::string(32, 'k'), "http://127.0.0.1:8787/");
  BlobAddress blob{{"t 1", "l/1"}, StoreKind::kCar, "baembeikey"};
  std::string url = signer.Sign("PUT", blob, kNow + absl::Hours(1));
  EXPECT_THAT(url, StartsWith("http://127.0.0.1:8787/blob/t%201/l%2F1/car/baembeikey?exp="));
  auto ok = signer.Verify("PUT", TargetOf(url, "http://127.0.0.1:8787"), kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->ledger.tenant(), "t 1");
  EXPECT_EQ(ok->ledger.ledger(), "l/1");
  EXPECT_EQ(StoreKindName(ok->store), "car");
  EXPECT_EQ(ok->key, "baembeikey");
}

// Key rotation: an edge with the new secret and the old one as previous verifies URLs signed by
// an edge still on the old secret, and signs new URLs that only the new secret verifies.
TEST(UrlSignerTest, PreviousSecretsStillVerifyDuringRotation) {
  const std::string base = "http://e";
  UrlSigner old_edge(std::string(32, 'o'), base);
  UrlSigner rotated(std::string(32, 'n'), base, {std::string(32, 'o')});
  UrlSigner new_only(std::string(32, 'n'), base);
  BlobAddress blob{{"t", "l"}, StoreKind::kCar, "k"};
  std::string old_url = TargetOf(old_edge.Sign("GET", blob, kNow + absl::Hours(1)), base);
  EXPECT_TRUE(rotated.Verify("GET", old_url, kNow).ok());
  EXPECT_EQ(new_only.Verify("GET", old_url, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::string new_url = TargetOf(rotated.Sign("GET", blob, kNow + absl::Hours(1)), base);
  EXPECT_TRUE(new_only.Verify("GET", new_url, kNow).ok());
  EXPECT_EQ(old_edge.Verify("GET", new_url, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A previous secret does not make a tampered URL valid.
  std::string tampered = old_url;
  tampered.replace(tampered.find("/car/"), 5, "/file/");
  EXPECT_EQ(rotated.Verify("GET", tampered, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(UrlSignerTest, GetSignatureAlsoAllowsHeadButNotPutOrDelete) {
  UrlSigner signer(std::string(32, 'k'), "http://h");
  std::string target = TargetOf(
      signer.Sign("GET", {{"t", "l"}, StoreKind::kFile, "k"}, kNow + absl::Minutes(1)), "http://h");
  EXPECT_TRUE(signer.Verify("GET", target, kNow).ok());
  EXPECT_TRUE(signer.Verify("HEAD", target, kNow).ok());
  EXPECT_EQ(signer.Verify("PUT", target, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(signer.Verify("DELETE", target, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(UrlSignerTest, TamperedAddressOrExpiryIsPermissionDenied) {
  UrlSigner signer(std::string(32, 'k'), "http://h");
  std::string target =
      TargetOf(signer.Sign("GET", {{"t", "l"}, StoreKind::kCar, "key1"}, kNow + absl::Minutes(1)),
               "http://h");
  std::string other_key = target;
  other_key.replace(other_key.find("key1"), 4, "key2");
  EXPECT_EQ(signer.Verify("GET", other_key, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::string later = target;
  size_t exp = later.find("exp=") + 4;
  later[exp + 2] = later[exp + 2] == '9' ? '8' : '9';
  EXPECT_EQ(signer.Verify("GET", later, kNow).status().code(), absl::StatusCode::kPermissionDenied);
  UrlSigner other(std::string(32, 'x'), "http://h");
  EXPECT_EQ(other.Verify("GET", target, kNow).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(UrlSignerTest, ExpiredUrlIsPermissionDenied) {
  UrlSigner signer(std::string(32, 'k'), "http://h");
  std::string target = TargetOf(
      signer.Sign("GET", {{"t", "l"}, StoreKind::kCar, "k"}, kNow + absl::Seconds(10)), "http://h");
  auto s = signer.Verify("GET", target, kNow + absl::Seconds(11));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("expired"));
}

TEST(UrlSignerTest, UnsignedOrMalformedTargetsAreRejected) {
  UrlSigner signer(std::string(32, 'k'), "http://h");
  EXPECT_EQ(signer.Verify("GET", "/blob/t/l/car/k", kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(signer.Verify("GET", "/blob/t/l", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(signer.Verify("GET", "/other/t/l/car/k?exp=1&sig=00", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UrlSignerTest, PublicBaseWithPathPrefixStillVerifies) {
  UrlSigner signer(std::string(32, 'k'), "https://kiln.example.com/sync");
  std::string url = signer.Sign("GET", {{"t", "l"}, StoreKind::kCar, "k"}, kNow + absl::Minutes(1));
  // Behind a proxy that keeps the prefix, the edge sees /sync/blob/...
  EXPECT_TRUE(signer.Verify("GET", TargetOf(url, "https://kiln.example.com"), kNow).ok());
}

}  // namespace
}  // namespace kiln::edge

namespace kiln::edge {
namespace {

std::string WriteKeyFile(const kiln::testing::TempDir& dir, const std::string& name,
                         const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadUrlSigningKeysTest, KeyFilesAreReadWithWhitespaceStripped) {
  kiln::testing::TempDir dir;
  const std::string current(40, 'c');
  const std::string previous(32, 'p');
  auto keys = LoadUrlSigningKeys(WriteKeyFile(dir, "key", current + "\n"),
                                 {WriteKeyFile(dir, "old", "  " + previous + "\n")});
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->current, current);
  EXPECT_EQ(keys->previous, std::vector<std::string>{previous});
  EXPECT_FALSE(keys->random);
}

TEST(LoadUrlSigningKeysTest, NoKeyFileDrawsARandomKey) {
  auto first = LoadUrlSigningKeys("", {});
  auto second = LoadUrlSigningKeys("", {});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->random);
  EXPECT_EQ(first->current.size(), 32u);
  EXPECT_NE(first->current, second->current);
}

TEST(LoadUrlSigningKeysTest, ShortKeysAreInvalidArgument) {
  kiln::testing::TempDir dir;
  EXPECT_EQ(LoadUrlSigningKeys(WriteKeyFile(dir, "short", "abc"), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto previous = LoadUrlSigningKeys("", {WriteKeyFile(dir, "old", "abc")});
  EXPECT_EQ(previous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(previous.status().message(), HasSubstr("old is shorter than 32 bytes"));
}

TEST(LoadUrlSigningKeysTest, MissingFilesAreNotFound) {
  kiln::testing::TempDir dir;
  auto keys = LoadUrlSigningKeys(dir.path() + "/absent", {});
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(keys.status().message(), HasSubstr("cannot read signing key file"));
  EXPECT_EQ(LoadUrlSigningKeys("", {dir.path() + "/absent"}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln::edge
