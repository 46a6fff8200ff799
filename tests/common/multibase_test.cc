#include "common/multibase.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "common/varint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// Encode/decode pairs. The RFC 4648 section 10 vectors are given there in upper case with
// padding; multibase base32 is the same alphabet in lower case without padding. The multibase
// strings were cross-checked with the `multiformats` npm package (bases/base32, base58, base64).
struct Vector {
  std::string bytes;
  std::string base32;
  std::string base58btc;
  std::string base64pad;
  std::string base64;
};

const std::vector<Vector>& Rfc4648Vectors() {
  static const auto* vectors = new std::vector<Vector>{
      {"", "", "", "", ""},
      {"f", "my", "2m", "Zg==", "Zg"},
      {"fo", "mzxq", "8o8", "Zm8=", "Zm8"},
      {"foo", "mzxw6", "bQbp", "Zm9v", "Zm9v"},
      {"foob", "mzxw6yq", "3csAg9", "Zm9vYg==", "Zm9vYg"},
      {"fooba", "mzxw6ytb", "CZJRhmz", "Zm9vYmE=", "Zm9vYmE"},
      {"foobar", "mzxw6ytboi", "t1Zv2yaZ", "Zm9vYmFy", "Zm9vYmFy"},
      {"hello world", "nbswy3dpeb3w64tmmq", "StV1DL6CwTryKyV",
       "aGVsbG8gd29ybGQ=", "aGVsbG8gd29ybGQ"},
  };
  return *vectors;
}

TEST(Base32Test, EncodesRfc4648Vectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    EXPECT_EQ(Base32Encode(v.bytes), v.base32) << "input: " << v.bytes;
  }
}

TEST(Base32Test, DecodesRfc4648Vectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    absl::StatusOr<std::string> decoded = Base32Decode(v.base32);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, v.bytes);
  }
}

TEST(Base32Test, EncodesBinaryBytes) {
  // Computed with the `multiformats` npm package (base32.encode, prefix stripped).
  EXPECT_EQ(Base32Encode(Hex("00")), "aa");
  EXPECT_EQ(Base32Encode(Hex("000001")), "aaaac");
  EXPECT_EQ(Base32Encode(Hex("fffe")), "777a");
  EXPECT_EQ(Base32Encode(Hex("00ff")), "ad7q");
}

TEST(Base32Test, DecodeRejectsUpperCaseWithPosition) {
  absl::StatusOr<std::string> decoded = Base32Decode("mzXw6");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("'X' at position 2"));
}

TEST(Base32Test, DecodeRejectsDigitsOutsideAlphabet) {
  absl::StatusOr<std::string> decoded = Base32Decode("mzx1");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("'1' at position 3"));
}

TEST(Base32Test, DecodeDescribesNonPrintableBytesInHex) {
  absl::StatusOr<std::string> decoded = Base32Decode(absl::string_view("ab\x01", 3));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("byte 0x01 at position 2"));
}

TEST(Base32Test, DecodeRejectsPadding) {
  absl::StatusOr<std::string> decoded = Base32Decode("my======");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("padding"));
}

TEST(Base32Test, DecodeRejectsLengthThatCannotEncodeWholeBytes) {
  for (absl::string_view text : {"a", "mzx", "mzxw6y"}) {
    absl::StatusOr<std::string> decoded = Base32Decode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(decoded.status().message(), HasSubstr("cannot encode whole bytes")) << text;
  }
}

TEST(Base32Test, DecodeRejectsNonZeroUnusedBits) {
  // "my" is "f"; "mz" has the same first byte but a set unused bit.
  absl::StatusOr<std::string> decoded = Base32Decode("mz");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("unused bits"));
}

TEST(Base58BtcTest, EncodesVectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    EXPECT_EQ(Base58BtcEncode(v.bytes), v.base58btc) << "input: " << v.bytes;
  }
}

TEST(Base58BtcTest, DecodesVectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    absl::StatusOr<std::string> decoded = Base58BtcDecode(v.base58btc);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, v.bytes);
  }
}

// Binary vectors computed with the `multiformats` npm package (base58btc.encode, 'z' stripped).
struct BinaryVector {
  std::string hex;
  std::string base58btc;
};

TEST(Base58BtcTest, EncodesAndDecodesBinaryVectors) {
  const std::vector<BinaryVector> vectors = {
      {"00", "1"},
      {"000000", "111"},
      {"000001", "112"},
      {"fffe", "LUu"},
      {"00ff", "15Q"},
      // A 16-byte key 00 01 .. 0f, the size of Fireproof's AES-128 keys.
      {"000102030405060708090a0b0c0d0e0f", "12drXXUifSrRnXLGbXg8E"},
      {"0000000000010203040506070809", "11111kA3B2yGe2z4"},
      {std::string(80, 'f'), "Dim4mzb29eRsQ3xpMX5gQMZVuoZq3cJdytGuo3uFm75w8eWwCihZEdc"},
      {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
       "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
       "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMinfCXNnR1adh8Vo8NTheK4evneedH4qmvjeqcBBNAefgS"},
  };
  for (const BinaryVector& v : vectors) {
    const std::string bytes = Hex(v.hex);
    EXPECT_EQ(Base58BtcEncode(bytes), v.base58btc) << v.hex;
    absl::StatusOr<std::string> decoded = Base58BtcDecode(v.base58btc);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(absl::BytesToHexString(*decoded), v.hex);
  }
}

// Textbook base58: repeated division of the whole number, one digit at a time. Slow but obviously
// right; used to check the chunked implementation on random inputs.
std::string ReferenceBase58Encode(absl::string_view bytes) {
  static constexpr absl::string_view kAlphabet =
      "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::vector<uint8_t> number(bytes.begin(), bytes.end());
  size_t zeros = 0;
  while (zeros < number.size() && number[zeros] == 0) ++zeros;
  std::string reversed;
  size_t start = zeros;
  while (start < number.size()) {
    int remainder = 0;
    for (size_t i = start; i < number.size(); ++i) {
      const int value = remainder * 256 + number[i];
      number[i] = static_cast<uint8_t>(value / 58);
      remainder = value % 58;
    }
    reversed.push_back(kAlphabet[remainder]);
    while (start < number.size() && number[start] == 0) ++start;
  }
  return std::string(zeros, '1') + std::string(reversed.rbegin(), reversed.rend());
}

TEST(Base58BtcTest, MatchesReferenceImplementationOnRandomInputs) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(rng() % 80, '\0');
    const size_t zeros = rng() % 4;
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = i < zeros ? '\0' : static_cast<char>(rng() & 0xff);
    }
    const std::string encoded = Base58BtcEncode(bytes);
    ASSERT_EQ(encoded, ReferenceBase58Encode(bytes)) << absl::BytesToHexString(bytes);
    absl::StatusOr<std::string> decoded = Base58BtcDecode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(*decoded, bytes);
  }
}

TEST(Base58BtcTest, DecodeRejectsCharactersOutsideAlphabetWithPosition) {
  // 0, O, I and l are left out of the bitcoin alphabet.
  for (absl::string_view text : {"abc0", "abcO", "abcI", "abcl", "abc+"}) {
    absl::StatusOr<std::string> decoded = Base58BtcDecode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(decoded.status().message(), HasSubstr("at position 3")) << text;
  }
}

TEST(Base58BtcTest, DecodeAcceptsTextAtSizeLimit) {
  absl::StatusOr<std::string> decoded = Base58BtcDecode(std::string(kMaxBase58DecodeSize, 'z'));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  // log2(58) * 4096 / 8 bytes, rounded up.
  EXPECT_EQ(decoded->size(), 3000u);
  EXPECT_EQ(Base58BtcEncode(*decoded), std::string(kMaxBase58DecodeSize, 'z'));
}

TEST(Base58BtcTest, DecodeRejectsTextOverSizeLimit) {
  absl::StatusOr<std::string> decoded = Base58BtcDecode(std::string(kMaxBase58DecodeSize + 1, 'z'));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("exceeds the limit"));
}

TEST(Base64Test, EncodesRfc4648VectorsWithAndWithoutPadding) {
  for (const Vector& v : Rfc4648Vectors()) {
    EXPECT_EQ(Base64Encode(v.bytes, Base64Padding::kRequired), v.base64pad) << v.bytes;
    EXPECT_EQ(Base64Encode(v.bytes, Base64Padding::kNone), v.base64) << v.bytes;
  }
}

TEST(Base64Test, DecodesRfc4648VectorsWithAndWithoutPadding) {
  for (const Vector& v : Rfc4648Vectors()) {
    absl::StatusOr<std::string> padded = Base64Decode(v.base64pad, Base64Padding::kRequired);
    ASSERT_TRUE(padded.ok()) << padded.status();
    EXPECT_EQ(*padded, v.bytes);
    absl::StatusOr<std::string> unpadded = Base64Decode(v.base64, Base64Padding::kNone);
    ASSERT_TRUE(unpadded.ok()) << unpadded.status();
    EXPECT_EQ(*unpadded, v.bytes);
  }
}

TEST(Base64Test, UsesStandardAlphabetNotUrlSafe) {
  EXPECT_EQ(Base64Encode(Hex("fbff"), Base64Padding::kNone), "+/8");
  absl::StatusOr<std::string> decoded = Base64Decode("-_8", Base64Padding::kNone);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("'-' at position 0"));
}

TEST(Base64Test, PaddedDecodeRejectsMissingPadding) {
  absl::StatusOr<std::string> decoded = Base64Decode("Zg", Base64Padding::kRequired);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("not a multiple of 4"));
}

TEST(Base64Test, PaddedDecodeRejectsTooMuchPadding) {
  absl::StatusOr<std::string> decoded = Base64Decode("Z===", Base64Padding::kRequired);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("at most 2"));
}

TEST(Base64Test, PaddedDecodeRejectsPaddingBeforeTheEnd) {
  absl::StatusOr<std::string> decoded = Base64Decode("Zg==Zg==", Base64Padding::kRequired);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("padding character '=' at position 2"));
}

TEST(Base64Test, UnpaddedDecodeRejectsPadding) {
  absl::StatusOr<std::string> decoded = Base64Decode("Zg==", Base64Padding::kNone);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("padding character '=' at position 2"));
}

TEST(Base64Test, DecodeRejectsNonZeroUnusedBits) {
  // "Zg" is "f"; "Zh" sets an unused bit.
  absl::StatusOr<std::string> decoded = Base64Decode("Zh", Base64Padding::kNone);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("unused bits"));
}

TEST(Base64Test, DecodeRejectsLengthThatCannotEncodeWholeBytes) {
  absl::StatusOr<std::string> decoded = Base64Decode("Zm9vY", Base64Padding::kNone);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("cannot encode whole bytes"));
}

TEST(MultibaseTest, EncodesHelloWorldInEveryBase) {
  // Computed with the `multiformats` npm package.
  EXPECT_EQ(MultibaseEncode(Multibase::kBase32, "hello world"), "bnbswy3dpeb3w64tmmq");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase58Btc, "hello world"), "zStV1DL6CwTryKyV");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase64Pad, "hello world"), "MaGVsbG8gd29ybGQ=");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase64, "hello world"), "maGVsbG8gd29ybGQ");
}

TEST(MultibaseTest, EncodesEmptyBytesAsPrefixAlone) {
  EXPECT_EQ(MultibaseEncode(Multibase::kBase32, ""), "b");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase58Btc, ""), "z");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase64Pad, ""), "M");
  EXPECT_EQ(MultibaseEncode(Multibase::kBase64, ""), "m");
}

TEST(MultibaseTest, DecodeDispatchesOnPrefix) {
  for (absl::string_view text :
       {"bnbswy3dpeb3w64tmmq", "zStV1DL6CwTryKyV", "MaGVsbG8gd29ybGQ=", "maGVsbG8gd29ybGQ"}) {
    absl::StatusOr<std::string> decoded = MultibaseDecode(text);
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(*decoded, "hello world") << text;
  }
}

TEST(MultibaseTest, RoundTripsEveryBase) {
  const std::string bytes = Hex("0001fffe80017f");
  for (Multibase base :
       {Multibase::kBase32, Multibase::kBase58Btc, Multibase::kBase64Pad, Multibase::kBase64}) {
    const std::string text = MultibaseEncode(base, bytes);
    EXPECT_EQ(text[0], MultibasePrefix(base));
    absl::StatusOr<std::string> decoded = MultibaseDecode(text);
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(*decoded, bytes) << text;
  }
}

TEST(MultibaseTest, DecodeRejectsEmptyText) {
  absl::StatusOr<std::string> decoded = MultibaseDecode("");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("empty"));
}

TEST(MultibaseTest, DecodeRejectsUnknownPrefix) {
  // 'f' (base16) and 'B' (base32 upper) are real multibases that Kiln does not accept.
  for (absl::string_view text : {"f68656c6c6f", "BNBSWY3DP", "Qmabc", "xyz"}) {
    absl::StatusOr<std::string> decoded = MultibaseDecode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(decoded.status().message(), HasSubstr("unsupported prefix")) << text;
  }
}

TEST(MultibaseTest, DecodeErrorPositionCountsThePrefix) {
  absl::StatusOr<std::string> decoded = MultibaseDecode("bmz!w6");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("invalid base32: character '!' at position 3"));
}

TEST(MultibaseTest, DecodeRejectsBadBase64Padding) {
  absl::StatusOr<std::string> decoded = MultibaseDecode("MZg=");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("base64pad"));
}

// Varint vectors computed with the `multiformats` npm package (varint.encodeTo).
struct VarintVector {
  uint64_t value;
  std::string hex;
};

TEST(UvarintTest, EncodesAndDecodesVectors) {
  const std::vector<VarintVector> vectors = {
      {0, "00"},
      {1, "01"},
      {127, "7f"},
      {128, "8001"},
      {300, "ac02"},
      {16384, "808001"},
      {uint64_t{1} << 32, "8080808010"},
      {(uint64_t{1} << 53) - 1, "ffffffffffffff0f"},
      {kMaxUvarint, "ffffffffffffffff7f"},
  };
  for (const VarintVector& v : vectors) {
    std::string encoded;
    AppendUvarint(&encoded, v.value);
    EXPECT_EQ(absl::BytesToHexString(encoded), v.hex) << v.value;
    absl::string_view in = encoded;
    absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, v.value);
    EXPECT_TRUE(in.empty());
  }
}

TEST(UvarintTest, ReadAdvancesPastTheVarintOnly) {
  const std::string bytes = Hex("ac02ff");
  absl::string_view in = bytes;
  absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, 300u);
  EXPECT_EQ(in, Hex("ff"));
}

TEST(UvarintTest, ReadRejectsEmptyInput) {
  absl::string_view in;
  EXPECT_EQ(ReadUvarint(&in).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UvarintTest, ReadRejectsTruncatedVarintAndLeavesInputUnchanged) {
  const std::string bytes = Hex("ac82");
  absl::string_view in = bytes;
  absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
  EXPECT_EQ(in.size(), 2u);
}

TEST(UvarintTest, ReadRejectsOverlongVarint) {
  // Ten bytes: more than the 9 the multiformats spec allows (values of 2^63 and above).
  const std::string bytes = Hex("80808080808080808001");
  absl::string_view in = bytes;
  absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("longer than 9 bytes"));
}

TEST(UvarintTest, ReadRejectsNonMinimalEncoding) {
  // 0x81 0x00 is 1 written in two bytes.
  const std::string bytes = Hex("8100");
  absl::string_view in = bytes;
  absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("not minimally encoded"));
}

}  // namespace
}  // namespace kiln
