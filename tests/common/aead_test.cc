#include "common/aead.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(KeySealerTest, SealedKeyOpensWithSameKekAndAad) {
  KeySealer sealer = *KeySealer::Create(std::string(32, 'a'));
  std::string sealed = *sealer.Seal("zSecretKey", "t1/l1");
  EXPECT_EQ(sealed.find("zSecretKey"), std::string::npos);
  EXPECT_EQ(sealed.size(), 12 + 10 + 16u);
  auto opened = sealer.Open(sealed, "t1/l1");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "zSecretKey");
  // Random IVs: sealing twice gives different bytes.
  EXPECT_NE(*sealer.Seal("zSecretKey", "t1/l1"), sealed);
}

TEST(KeySealerTest, AlteredBytesWrongAadOrWrongKekAreDataLoss) {
  KeySealer sealer = *KeySealer::Create(std::string(32, 'a'));
  std::string sealed = *sealer.Seal("zSecretKey", "t1/l1");
  std::string altered = sealed;
  altered[14] ^= 1;
  EXPECT_EQ(sealer.Open(altered, "t1/l1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(sealer.Open(sealed, "t1/l2").status().code(), absl::StatusCode::kDataLoss);
  KeySealer other = *KeySealer::Create(std::string(32, 'b'));
  EXPECT_EQ(other.Open(sealed, "t1/l1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(sealer.Open("short", "t1/l1").status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeySealerTest, PreviousKeksOpenWhatTheySealedAndSaySo) {
  KeySealer old_kek = *KeySealer::Create(std::string(32, 'o'));
  std::string sealed_old = *old_kek.Seal("zSecret", "aad");
  KeySealer rotating = *KeySealer::Create(std::string(32, 'n'), {std::string(32, 'o')});
  bool under_previous = false;
  auto opened = rotating.Open(sealed_old, "aad", &under_previous);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "zSecret");
  EXPECT_TRUE(under_previous);
  // New seals use the current KEK only.
  std::string sealed_new = *rotating.Seal("zSecret", "aad");
  EXPECT_TRUE(rotating.Open(sealed_new, "aad", &under_previous).ok());
  EXPECT_FALSE(under_previous);
  EXPECT_EQ(old_kek.Open(sealed_new, "aad").status().code(), absl::StatusCode::kDataLoss);
  // A key sealed under neither is still DATA_LOSS.
  KeySealer stranger = *KeySealer::Create(std::string(32, 's'));
  EXPECT_EQ(rotating.Open(*stranger.Seal("x", "aad"), "aad").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(KeySealer::Create(std::string(32, 'n'), {"short"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeySealerTest, KekMustBe32Bytes) {
  EXPECT_EQ(KeySealer::Create("short").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseKekTest, AcceptsHexAndBase64AndRejectsOthers) {
  std::string hex(64, 'a');
  auto k = ParseKek(hex + "\n");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, std::string(32, '\xaa'));
  auto b64 = ParseKek("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_TRUE(b64.ok());
  EXPECT_EQ(*b64, std::string(32, '\0'));
  EXPECT_EQ(ParseKek("too short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKek(std::string(64, 'g')).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
