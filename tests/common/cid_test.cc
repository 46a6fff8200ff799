#include "common/cid.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

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

// One CID as the reference implementation writes it: `cid.toString()`, `cid.toString(base58btc)`
// and, where a test needs it, `cid.bytes` in hex.
struct CidVector {
  absl::string_view base32, base58, bytes_hex;
};

// dag-cbor encoding of {} is the single byte 0xa0.
constexpr CidVector kEmptyMap{
    "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua",
    "zdpuAyTBnYSugBZhqJuLsNpzjmAjSmxDqBbtAqXMtsvxiN2v3",
    "01711220c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0"};

// dag-cbor encoding of {"hello":"world"}: a1 65 "hello" 65 "world".
constexpr CidVector kHelloWorldMap{"bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae",
                                   "zdpuAtX7ZibcWdSKQwiDCkPjWwRvtcKCPku9H7LhgA4qJW4Wk", ""};

// Codec 0x18 (Fireproof CAR) over the ASCII bytes "hello world".
constexpr CidVector kFireproofCar{
    "baembeifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    "zUwqTxbbG2a751qauAgnoYRscpjjhHr9F8TobATw5WAtAFWR6",
    "01181220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"};

// The sha2-256 digest in kEmptyMap, and the bytes kHelloWorldMap hashes.
constexpr absl::string_view kEmptyMapDigestHex =
    "c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0";
constexpr absl::string_view kHelloWorldMapCborHex = "a16568656c6c6f65776f726c64";

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
  absl::StatusOr<Cid> cid = ParseCid(kEmptyMap.base32);
  ASSERT_TRUE(cid.ok()) << cid.status();
  EXPECT_EQ(cid->version(), 1u);
  EXPECT_EQ(cid->codec(), kCodecDagCbor);
  EXPECT_EQ(cid->hash_code(), kMultihashSha256);
  EXPECT_EQ(absl::BytesToHexString(cid->digest()), kEmptyMapDigestHex);
}

TEST(ParseCidTest, DagCborCidRoundTripsThroughBase32AndBase58) {
  for (auto [base32, base58] : {std::pair{kEmptyMap.base32, kEmptyMap.base58},
                                std::pair{kHelloWorldMap.base32, kHelloWorldMap.base58}}) {
    const Cid from_base32 = MustParse(base32);
    EXPECT_EQ(from_base32.ToString(), base32);
    EXPECT_EQ(from_base32.ToString(Multibase::kBase58Btc), base58);
    const Cid from_base58 = MustParse(base58);
    EXPECT_EQ(from_base58, from_base32);
    EXPECT_EQ(from_base58.ToString(), base32);
  }
}

TEST(ParseCidTest, ParsesFireproofCarCidWithCodec0x18) {
  const Cid cid = MustParse(kFireproofCar.base32);
  EXPECT_EQ(cid.version(), 1u);
  EXPECT_EQ(cid.codec(), kCodecFireproofCar);
  EXPECT_EQ(cid.codec(), 0x18u);
  EXPECT_EQ(cid.hash_code(), kMultihashSha256);
  EXPECT_EQ(cid.ToString(), kFireproofCar.base32);
  EXPECT_EQ(cid.ToString(Multibase::kBase58Btc), kFireproofCar.base58);
  EXPECT_EQ(MustParse(kFireproofCar.base58), cid);
  EXPECT_EQ(absl::BytesToHexString(cid.ToBytes()), kFireproofCar.bytes_hex);
}

TEST(ParseCidTest, AcceptsBase64Multibase) {
  // `CID.toString(base64)` and `CID.toString(base64pad)` of kEmptyMap.
  EXPECT_EQ(MustParse("mAXESIMGaeX+h/VkM0uW0LRz18kbim5FoTi+HQEuB3DRcelag"),
            MustParse(kEmptyMap.base32));
  EXPECT_EQ(MustParse("MAXESIMGaeX+h/VkM0uW0LRz18kbim5FoTi+HQEuB3DRcelag"),
            MustParse(kEmptyMap.base32));
  EXPECT_EQ(MustParse(kEmptyMap.base32).ToString(Multibase::kBase64),
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

// A text ParseCid must refuse with INVALID_ARGUMENT, and what the message must say.
struct RejectedText {
  std::string name;  // the case's test name, after "Rejects"
  std::string text;
  std::string detail;
};

std::string WithBase32CharacterAt10(absl::string_view text) {
  std::string out(text);
  out[10] = '1';
  return out;
}

std::string WithoutLastByte(absl::string_view bytes) {
  return std::string(bytes.substr(0, bytes.size() - 1));
}

std::vector<RejectedText> RejectedTexts() {
  const std::string empty_map = Hex(kEmptyMap.bytes_hex);
  const std::string digest(32, 'x');
  return {
      {"EmptyString", "", "empty"},
      {"UnknownMultibasePrefix", "fbafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua",
       "unsupported prefix 'f'"},
      {"BadBase32CharacterWithPosition", WithBase32CharacterAt10(kEmptyMap.base32),
       "'1' at position 10"},
      {"UpperCaseBase32", "bAFYREIGBTJ4X7IP5LEGNFZNUFUOPL4SG4KNZC2COF6DUAS4B3Q2FY6SWUA", ""},
      {"TruncatedDigest", MultibaseEncode(Multibase::kBase32, WithoutLastByte(empty_map)),
       "digest is truncated: multihash declares 32 bytes but only 31 remain"},
      // Declares a 31-byte sha2-256 digest and carries 31 bytes.
      {"WrongMultihashLengthForSha256",
       MultibaseEncode(Multibase::kBase32, BinaryCid("0171121f", std::string(31, 'x'))),
       "sha2-256 digest must be 32 bytes"},
      {"TrailingBytesAfterDigest",
       MultibaseEncode(Multibase::kBase32, empty_map + std::string("\x00", 1)),
       "1 unexpected trailing byte after the digest"},
      {"OverlongCodecVarint",
       MultibaseEncode(Multibase::kBase32, BinaryCid("0180808080808080808001"
                                                     "1220",
                                                     digest)),
       "codec: varint is longer than 9 bytes"},
      {"VersionOtherThanOne", MultibaseEncode(Multibase::kBase32, BinaryCid("02711220", digest)),
       "unsupported version 2"},
      {"CidV0MultihashWithMultibasePrefix",
       MultibaseEncode(Multibase::kBase58Btc, MustParse(kV0Cid).ToBytes()),
       "CIDv0 must be written as bare base58btc"},
      {"CidV0OfWrongLength", std::string(kV0Cid.substr(0, 45)), "CIDv0 text must be 46 characters"},
      {"TextOverSizeLimit", "b" + std::string(kMaxCidTextSize, 'a'), "exceeds the limit"},
  };
}

class ParseCidRejectsTest : public ::testing::TestWithParam<RejectedText> {};

TEST_P(ParseCidRejectsTest, WithInvalidArgumentNamingTheProblem) {
  absl::StatusOr<Cid> cid = ParseCid(GetParam().text);
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cid.status().message()), StartsWith("invalid CID: "));
  EXPECT_THAT(cid.status().message(), HasSubstr(GetParam().detail));
}

INSTANTIATE_TEST_SUITE_P(Texts, ParseCidRejectsTest, ::testing::ValuesIn(RejectedTexts()),
                         [](const ::testing::TestParamInfo<RejectedText>& info) {
                           return info.param.name;
                         });

TEST(CidForSha256Test, HashesEmptyDagCborMap) {
  EXPECT_EQ(CidForSha256(kCodecDagCbor, Hex("a0")).ToString(), kEmptyMap.base32);
}

TEST(CidForSha256Test, HashesHelloWorldDagCborMap) {
  EXPECT_EQ(CidForSha256(kCodecDagCbor, Hex(kHelloWorldMapCborHex)).ToString(),
            kHelloWorldMap.base32);
}

TEST(CidForSha256Test, HashesFireproofCarBytesWithCodec0x18) {
  const Cid cid = CidForSha256(kCodecFireproofCar, "hello world");
  EXPECT_EQ(cid.ToString(), kFireproofCar.base32);
  EXPECT_THAT(cid.ToString(), StartsWith("baembei"));
}

TEST(CidForSha256Test, HashesRawBytes) {
  EXPECT_EQ(CidForSha256(kCodecRaw, "abc").ToString(), kRawAbcCid);
}

TEST(CidBytesTest, ToBytesMatchesMultiformats) {
  EXPECT_EQ(absl::BytesToHexString(MustParse(kEmptyMap.base32).ToBytes()), kEmptyMap.bytes_hex);
}

TEST(CidBytesTest, FromBytesRoundTrips) {
  for (absl::string_view text : {kEmptyMap.base32, kFireproofCar.base32, kRawAbcCid, kV0Cid}) {
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
  absl::StatusOr<Cid> cid = CidFromBytes(Hex(kEmptyMap.bytes_hex) + "ab");
  EXPECT_EQ(cid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cid.status().message(), HasSubstr("2 unexpected trailing bytes"));
}

TEST(CidBytesTest, FromBytesRejectsIdentityMultibasePrefix) {
  // The 0x00 that dag-cbor tag 42 puts in front is the CBOR layer's to strip.
  absl::StatusOr<Cid> cid = CidFromBytes(Hex(absl::StrCat("00", kEmptyMap.bytes_hex)));
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
  const std::string section = Hex(kEmptyMap.bytes_hex) + Hex("a0");
  absl::string_view in = section;
  absl::StatusOr<Cid> cid = ReadCidBytes(&in);
  ASSERT_TRUE(cid.ok()) << cid.status();
  EXPECT_EQ(cid->ToString(), kEmptyMap.base32);
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
  os << MustParse(kFireproofCar.base58);
  EXPECT_EQ(os.str(), kFireproofCar.base32);
}

}  // namespace
}  // namespace kiln
