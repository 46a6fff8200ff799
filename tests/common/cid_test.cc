#include "common/cid.h"

#include <sstream>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/multibase.h"
#include "common/varint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// Expected values below were computed with the `multiformats` npm package (v13), e.g.
// `CID.create(1, 0x71, await sha256.digest(bytes)).toString()` and `.toString(base58btc)`.

// dag-cbor encoding of {} is the single byte 0xa0.
constexpr absl::string_view kEmptyMapCid =
    "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua";
constexpr absl::string_view kEmptyMapCidBase58 =
    "zdpuAyTBnYSugBZhqJuLsNpzjmAjSmxDqBbtAqXMtsvxiN2v3";
constexpr absl::string_view kEmptyMapCidBytesHex =
    "01711220c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0";
constexpr absl::string_view kEmptyMapDigestHex =
    "c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0";

// dag-cbor encoding of {"hello":"world"}: a1 65 "hello" 65 "world".
constexpr absl::string_view kHelloWorldMapCborHex = "a16568656c6c6f65776f726c64";
constexpr absl::string_view kHelloWorldMapCid =
    "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae";
constexpr absl::string_view kHelloWorldMapCidBase58 =
    "zdpuAtX7ZibcWdSKQwiDCkPjWwRvtcKCPku9H7LhgA4qJW4Wk";

// Codec 0x18 (Fireproof CAR) over the ASCII bytes "hello world".
constexpr absl::string_view kFireproofCarCid =
    "baembeifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
constexpr absl::string_view kFireproofCarCidBase58 =
    "zUwqTxbbG2a751qauAgnoYRscpjjhHr9F8TobATw5WAtAFWR6";
constexpr absl::string_view kFireproofCarCidBytesHex =
    "01181220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

// Codec 0x55 (raw) over "abc".
constexpr absl::string_view kRawAbcCid =
    "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu";

// CIDv0 of the sha2-256 of the empty string, and its CIDv1 form (`cid.toV1().toString()`).
constexpr absl::string_view kV0Cid = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
constexpr absl::string_view kV0CidAsV1 =
    "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
constexpr absl::string_view kEmptyStringSha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Parses `text`, recording a test failure (and returning an unrelated CID) when it does not parse.
Cid MustParse(absl::string_view text) {
  absl::StatusOr<Cid> cid = ParseCid(text);
  if (!cid.ok()) {
    ADD_FAILURE() << text << ": " << cid.status();
    return CidForSha256(kCodecRaw, "MustParse failed");
  }
  return *std::move(cid);
}

// Binary CID with the given parts, for building malformed inputs.
std::string BinaryCid(absl::string_view prefix_hex, absl::string_view digest) {
  return Hex(prefix_hex) + std::string(digest);
}

TEST(ParseCidTest, ParsesDagCborCidIntoItsParts) {
  absl::StatusOr<Cid> cid = ParseCid(kEmptyMapCid);
  ASSERT_TRUE(cid.ok()) << cid.status();
  EXPECT_EQ(cid->version(), 1u);
  EXPECT_EQ(cid->codec(), kCodecDagCbor);
  EXPECT_EQ(cid->hash_code(), kMultihashSha256);
  EXPECT_EQ(absl::BytesToHexString(cid->digest()), kEmptyMapDigestHex);
}

TEST(ParseCidTest, DagCborCidRoundTripsThroughBase32AndBase58) {
  for (auto [base32, base58] : {std::pair{kEmptyMapCid, kEmptyMapCidBase58},
                                std::pair{kHelloWorldMapCid, kHelloWorldMapCidBase58}}) {
    const Cid from_base32 = MustParse(base32);
    EXPECT_EQ(from_base32.ToString(), base32);
    EXPECT_EQ(from_base32.ToString(Multibase::kBase58Btc), base58);
    const Cid from_base58 = MustParse(base58);
    EXPECT_EQ(from_base58, from_base32);
    EXPECT_EQ(from_base58.ToString(), base32);
  }
}

TEST(ParseCidTest, ParsesFireproofCarCidWithCodec0x18) {
  const Cid cid = MustParse(kFireproofCarCid);
  EXPECT_EQ(cid.version(), 1u);
  EXPECT_EQ(cid.codec(), kCodecFireproofCar);
  EXPECT_EQ(cid.codec(), 0x18u);
  EXPECT_EQ(cid.hash_code(), kMultihashSha256);
  EXPECT_EQ(cid.ToString(), kFireproofCarCid);
  EXPECT_EQ(cid.ToString(Multibase::kBase58Btc), kFireproofCarCidBase58);
  EXPECT_EQ(MustParse(kFireproofCarCidBase58), cid);
  EXPECT_EQ(absl::BytesToHexString(cid.ToBytes()), kFireproofCarCidBytesHex);
}

TEST(ParseCidTest, AcceptsBase64Multibase) {
  // `CID.toString(base64)` and `CID.toString(base64pad)` of kEmptyMapCid.
  EXPECT_EQ(MustParse("mAXESIMGaeX+h/VkM0uW0LRz18kbim5FoTi+HQEuB3DRcelag"),
            MustParse(kEmptyMapCid));
  EXPECT_EQ(MustParse("MAXESIMGaeX+h/VkM0uW0LRz18kbim5FoTi+HQEuB3DRcelag"),
            MustParse(kEmptyMapCid));
  EXPECT_EQ(MustParse(kEmptyMapCid).ToString(Multibase::kBase64),
            "mAXESIMGaeX+h/VkM0uW0LRz18kbim5FoTi+HQEuB3DRcelag");
}

TEST(ParseCidTest, ParsesCidV0) {
  const Cid cid = MustParse(kV0Cid);
  EXPECT_EQ(cid.version(), 0u);
  EXPECT_EQ(cid.codec(), kCodecDagPb);
  EXPECT_EQ(cid.hash_code(), kMultihashSha256);
  EXPECT_EQ(absl::BytesToHexString(cid.digest()), kEmptyStringSha256Hex);
  EXPECT_EQ(cid.ToString(), kV0Cid);
  EXPECT_EQ(cid.ToString(Multibase::kBase32), kV0Cid);
  EXPECT_EQ(absl::BytesToHexString(cid.ToBytes()), absl::StrCat("1220", kEmptyStringSha256Hex));
  EXPECT_EQ(cid.ToV1().ToString(), kV0CidAsV1);
  EXPECT_NE(cid.ToV1(), cid);
}

TEST(ParseCidTest, RejectsEmptyString) {
  absl::StatusOr<Cid> cid = ParseCid("");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cid.status().message()), StartsWith("invalid CID: "));
  EXPECT_THAT(cid.status().message(), HasSubstr("empty"));
}

TEST(ParseCidTest, RejectsUnknownMultibasePrefix) {
  absl::StatusOr<Cid> cid =
      ParseCid("fbafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cid.status().message()), StartsWith("invalid CID: "));
  EXPECT_THAT(cid.status().message(), HasSubstr("unsupported prefix 'f'"));
}

TEST(ParseCidTest, RejectsBadBase32CharacterWithPosition) {
  std::string text(kEmptyMapCid);
  text[10] = '1';
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cid.status().message()), StartsWith("invalid CID: "));
  EXPECT_THAT(cid.status().message(), HasSubstr("'1' at position 10"));
}

TEST(ParseCidTest, RejectsUpperCaseBase32) {
  absl::StatusOr<Cid> cid = ParseCid("bAFYREIGBTJ4X7IP5LEGNFZNUFUOPL4SG4KNZC2COF6DUAS4B3Q2FY6SWUA");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseCidTest, RejectsTruncatedDigest) {
  const std::string bytes = Hex(kEmptyMapCidBytesHex);
  const std::string text = MultibaseEncode(Multibase::kBase32, bytes.substr(0, bytes.size() - 1));
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(),
              HasSubstr("digest is truncated: multihash declares 32 bytes but only 31 remain"));
}

TEST(ParseCidTest, RejectsWrongMultihashLengthForSha256) {
  // Declares a 31-byte sha2-256 digest and carries 31 bytes.
  const std::string text =
      MultibaseEncode(Multibase::kBase32, BinaryCid("0171121f", std::string(31, 'x')));
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("sha2-256 digest must be 32 bytes"));
}

TEST(ParseCidTest, RejectsTrailingBytesAfterDigest) {
  const std::string text =
      MultibaseEncode(Multibase::kBase32, Hex(kEmptyMapCidBytesHex) + std::string("\x00", 1));
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("1 unexpected trailing byte after the digest"));
}

TEST(ParseCidTest, RejectsOverlongCodecVarint) {
  const std::string text = MultibaseEncode(Multibase::kBase32, BinaryCid("0180808080808080808001"
                                                                         "1220",
                                                                         std::string(32, 'x')));
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("codec: varint is longer than 9 bytes"));
}

TEST(ParseCidTest, RejectsVersionOtherThanOne) {
  const std::string text =
      MultibaseEncode(Multibase::kBase32, BinaryCid("02711220", std::string(32, 'x')));
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("unsupported version 2"));
}

TEST(ParseCidTest, RejectsCidV0MultihashWithMultibasePrefix) {
  const std::string text = MultibaseEncode(Multibase::kBase58Btc, MustParse(kV0Cid).ToBytes());
  absl::StatusOr<Cid> cid = ParseCid(text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("CIDv0 must be written as bare base58btc"));
}

TEST(ParseCidTest, RejectsCidV0OfWrongLength) {
  absl::StatusOr<Cid> cid = ParseCid(kV0Cid.substr(0, 45));
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("CIDv0 text must be 46 characters"));
}

TEST(ParseCidTest, RejectsTextOverSizeLimit) {
  absl::StatusOr<Cid> cid = ParseCid("b" + std::string(kMaxCidTextSize, 'a'));
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("exceeds the limit"));
}

TEST(CidForSha256Test, HashesEmptyDagCborMap) {
  EXPECT_EQ(CidForSha256(kCodecDagCbor, Hex("a0")).ToString(), kEmptyMapCid);
}

TEST(CidForSha256Test, HashesHelloWorldDagCborMap) {
  EXPECT_EQ(CidForSha256(kCodecDagCbor, Hex(kHelloWorldMapCborHex)).ToString(), kHelloWorldMapCid);
}

TEST(CidForSha256Test, HashesFireproofCarBytesWithCodec0x18) {
  const Cid cid = CidForSha256(kCodecFireproofCar, "hello world");
  EXPECT_EQ(cid.ToString(), kFireproofCarCid);
  EXPECT_THAT(cid.ToString(), StartsWith("baembei"));
}

TEST(CidForSha256Test, HashesRawBytes) {
  EXPECT_EQ(CidForSha256(kCodecRaw, "abc").ToString(), kRawAbcCid);
}

TEST(CidBytesTest, ToBytesMatchesMultiformats) {
  EXPECT_EQ(absl::BytesToHexString(MustParse(kEmptyMapCid).ToBytes()), kEmptyMapCidBytesHex);
}

TEST(CidBytesTest, FromBytesRoundTrips) {
  for (absl::string_view text : {kEmptyMapCid, kFireproofCarCid, kRawAbcCid, kV0Cid}) {
    const Cid cid = MustParse(text);
    absl::StatusOr<Cid> decoded = CidFromBytes(cid.ToBytes());
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(*decoded, cid);
  }
}

TEST(CidBytesTest, FromBytesRejectsEmptyInput) {
  absl::StatusOr<Cid> cid = CidFromBytes("");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("empty"));
}

TEST(CidBytesTest, FromBytesRejectsTrailingBytes) {
  absl::StatusOr<Cid> cid = CidFromBytes(Hex(kEmptyMapCidBytesHex) + "ab");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("2 unexpected trailing bytes"));
}

TEST(CidBytesTest, FromBytesRejectsIdentityMultibasePrefix) {
  // The 0x00 that dag-cbor tag 42 puts in front is the CBOR layer's to strip.
  absl::StatusOr<Cid> cid = CidFromBytes(Hex(absl::StrCat("00", kEmptyMapCidBytesHex)));
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("unsupported version 0"));
}

TEST(CidBytesTest, FromBytesRejectsTruncatedVarint) {
  absl::StatusOr<Cid> cid = CidFromBytes(Hex("01f1"));
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("codec: varint is truncated"));
}

TEST(CidBytesTest, FromBytesRejectsDigestOverLimit) {
  // Identity multihash (0x00) declaring 200 bytes (varint c8 01).
  absl::StatusOr<Cid> cid = CidFromBytes(BinaryCid("015500c801", std::string(200, 'x')));
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("over the limit"));
}

TEST(CidBytesTest, ReadCidBytesLeavesFollowingBytes) {
  const std::string section = Hex(kEmptyMapCidBytesHex) + Hex("a0");
  absl::string_view in = section;
  absl::StatusOr<Cid> cid = ReadCidBytes(&in);
  ASSERT_TRUE(cid.ok()) << cid.status();
  EXPECT_EQ(cid->ToString(), kEmptyMapCid);
  EXPECT_EQ(in, Hex("a0"));
}

TEST(CidBytesTest, ReadCidBytesLeavesInputUnchangedOnError) {
  const std::string bytes = Hex("01711220abcd");
  absl::string_view in = bytes;
  EXPECT_EQ(ReadCidBytes(&in).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(in.size(), bytes.size());
}

TEST(CidCreateTest, AcceptsNonSha256MultihashOfAnyLengthUpToLimit) {
  // 0x13 is sha2-512.
  absl::StatusOr<Cid> cid = Cid::Create(1, kCodecRaw, 0x13, std::string(64, 'x'));
  ASSERT_TRUE(cid.ok()) << cid.status();
  absl::StatusOr<Cid> parsed = ParseCid(cid->ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, *cid);
}

TEST(CidCreateTest, RejectsUnsupportedVersion) {
  EXPECT_EQ(Cid::Create(2, kCodecRaw, kMultihashSha256, std::string(32, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CidCreateTest, RejectsCidV0ThatIsNotDagPb) {
  EXPECT_EQ(Cid::Create(0, kCodecDagCbor, kMultihashSha256, std::string(32, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CidCreateTest, RejectsShortSha256Digest) {
  EXPECT_EQ(Cid::Create(1, kCodecRaw, kMultihashSha256, std::string(31, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CidCreateTest, RejectsCodecThatDoesNotFitInVarint) {
  EXPECT_EQ(Cid::Create(1, kMaxUvarint + 1, kMultihashSha256, std::string(32, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CidValueTest, EqualityComparesAllParts) {
  const Cid a = CidForSha256(kCodecDagCbor, "x");
  EXPECT_EQ(a, CidForSha256(kCodecDagCbor, "x"));
  EXPECT_NE(a, CidForSha256(kCodecRaw, "x"));
  EXPECT_NE(a, CidForSha256(kCodecDagCbor, "y"));
}

TEST(CidValueTest, WorksAsAbslHashKey) {
  const Cid a = CidForSha256(kCodecDagCbor, "x");
  EXPECT_EQ(absl::Hash<Cid>{}(a), absl::Hash<Cid>{}(MustParse(a.ToString())));
  absl::flat_hash_set<Cid> set = {a, CidForSha256(kCodecFireproofCar, "x")};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(MustParse(a.ToString(Multibase::kBase58Btc))));
  EXPECT_FALSE(set.contains(CidForSha256(kCodecRaw, "x")));
}

TEST(CidValueTest, OrderingIsStrictAndConsistentWithEquality) {
  const Cid a = CidForSha256(kCodecFireproofCar, "x");
  const Cid b = CidForSha256(kCodecDagCbor, "x");
  EXPECT_TRUE(a < b);  // Codec 0x18 sorts before 0x71.
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a < a);
}

TEST(CidValueTest, StreamsCanonicalString) {
  std::ostringstream os;
  os << MustParse(kFireproofCarCidBase58);
  EXPECT_EQ(os.str(), kFireproofCarCid);
}

}  // namespace
}  // namespace kiln
