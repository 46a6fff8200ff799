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

// One raw base: its encoder, its decoder and the column of Rfc4648Vectors() it must produce.
struct Codec {
  std::string name;
  std::string (*encode)(absl::string_view bytes);
  absl::StatusOr<std::string> (*decode)(absl::string_view text);
  std::string Vector::*text;
};

std::string Base64PadEncode(absl::string_view bytes) {
  return Base64Encode(bytes, Base64Padding::kRequired);
}

absl::StatusOr<std::string> Base64PadDecode(absl::string_view text) {
  return Base64Decode(text, Base64Padding::kRequired);
}

std::string Base64UnpaddedEncode(absl::string_view bytes) {
  return Base64Encode(bytes, Base64Padding::kNone);
}

absl::StatusOr<std::string> Base64UnpaddedDecode(absl::string_view text) {
  return Base64Decode(text, Base64Padding::kNone);
}

class CodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecTest, EncodesVectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    EXPECT_EQ(GetParam().encode(v.bytes), v.*GetParam().text) << "input: " << v.bytes;
  }
}

TEST_P(CodecTest, DecodesVectors) {
  for (const Vector& v : Rfc4648Vectors()) {
    absl::StatusOr<std::string> decoded = GetParam().decode(v.*GetParam().text);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, v.bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc4648, CodecTest,
    ::testing::Values(Codec{"Base32", Base32Encode, Base32Decode, &Vector::base32},
                      Codec{"Base58Btc", Base58BtcEncode, Base58BtcDecode, &Vector::base58btc},
                      Codec{"Base64Pad", Base64PadEncode, Base64PadDecode, &Vector::base64pad},
                      Codec{"Base64", Base64UnpaddedEncode, Base64UnpaddedDecode, &Vector::base64}),
    [](const ::testing::TestParamInfo<Codec>& info) { return info.param.name; });

TEST(Base32Test, EncodesBinaryBytes) {
  // Computed with the `multiformats` npm package (base32.encode, prefix stripped).
  EXPECT_EQ(Base32Encode(Hex("00")), "aa");
  EXPECT_EQ(Base32Encode(Hex("000001")), "aaaac");
  EXPECT_EQ(Base32Encode(Hex("fffe")), "777a");
  EXPECT_EQ(Base32Encode(Hex("00ff")), "ad7q");
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

TEST(Base58BtcTest, DecodeAcceptsTextAtSizeLimit) {
  absl::StatusOr<std::string> decoded = Base58BtcDecode(std::string(kMaxBase58DecodeSize, 'z'));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  // log2(58) * 4096 / 8 bytes, rounded up.
  EXPECT_EQ(decoded->size(), 3000u);
  EXPECT_EQ(Base58BtcEncode(*decoded), std::string(kMaxBase58DecodeSize, 'z'));
}

TEST(Base64Test, EncodesWithStandardAlphabetNotUrlSafe) {
  // Decoding the URL-safe form is refused: see DecodeRejectsTest.Base64UrlSafeAlphabet.
  EXPECT_EQ(Base64Encode(Hex("fbff"), Base64Padding::kNone), "+/8");
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

// A text one decoder must refuse with INVALID_ARGUMENT, and what the message must say.
struct RejectedText {
  std::string name;  // the case's test name, after "DecodeRejectsTest."
  absl::StatusOr<std::string> (*decode)(absl::string_view text);
  std::vector<std::string> texts;
  std::string detail;
};

std::vector<RejectedText> RejectedTexts() {
  return {
      {"Base32UpperCaseWithPosition", Base32Decode, {"mzXw6"}, "'X' at position 2"},
      {"Base32DigitsOutsideAlphabet", Base32Decode, {"mzx1"}, "'1' at position 3"},
      {"Base32NonPrintableBytesInHex",
       Base32Decode,
       {std::string("ab\x01", 3)},
       "byte 0x01 at position 2"},
      {"Base32Padding", Base32Decode, {"my======"}, "padding"},
      {"Base32LengthThatCannotEncodeWholeBytes",
       Base32Decode,
       {"a", "mzx", "mzxw6y"},
       "cannot encode whole bytes"},
      // "my" is "f"; "mz" has the same first byte but a set unused bit.
      {"Base32NonZeroUnusedBits", Base32Decode, {"mz"}, "unused bits"},
      // 0, O, I and l are left out of the bitcoin alphabet.
      {"Base58CharactersOutsideAlphabetWithPosition",
       Base58BtcDecode,
       {"abc0", "abcO", "abcI", "abcl", "abc+"},
       "at position 3"},
      {"Base58TextOverSizeLimit",
       Base58BtcDecode,
       {std::string(kMaxBase58DecodeSize + 1, 'z')},
       "exceeds the limit"},
      {"Base64UrlSafeAlphabet", Base64UnpaddedDecode, {"-_8"}, "'-' at position 0"},
      {"Base64PadMissingPadding", Base64PadDecode, {"Zg"}, "not a multiple of 4"},
      {"Base64PadTooMuchPadding", Base64PadDecode, {"Z==="}, "at most 2"},
      {"Base64PadPaddingBeforeTheEnd",
       Base64PadDecode,
       {"Zg==Zg=="},
       "padding character '=' at position 2"},
      {"Base64UnpaddedPadding",
       Base64UnpaddedDecode,
       {"Zg=="},
       "padding character '=' at position 2"},
      // "Zg" is "f"; "Zh" sets an unused bit.
      {"Base64NonZeroUnusedBits", Base64UnpaddedDecode, {"Zh"}, "unused bits"},
      {"Base64LengthThatCannotEncodeWholeBytes",
       Base64UnpaddedDecode,
       {"Zm9vY"},
       "cannot encode whole bytes"},
      {"MultibaseEmptyText", MultibaseDecode, {""}, "empty"},
      // 'f' (base16) and 'B' (base32 upper) are real multibases that Kiln does not accept.
      {"MultibaseUnknownPrefix",
       MultibaseDecode,
       {"f68656c6c6f", "BNBSWY3DP", "Qmabc", "xyz"},
       "unsupported prefix"},
      {"MultibaseErrorPositionCountsThePrefix",
       MultibaseDecode,
       {"bmz!w6"},
       "invalid base32: character '!' at position 3"},
      {"MultibaseBadBase64Padding", MultibaseDecode, {"MZg="}, "base64pad"},
  };
}

class DecodeRejectsTest : public ::testing::TestWithParam<RejectedText> {};

TEST_P(DecodeRejectsTest, WithInvalidArgumentNamingTheProblem) {
  for (const std::string& text : GetParam().texts) {
    absl::StatusOr<std::string> decoded = GetParam().decode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(decoded.status().message(), HasSubstr(GetParam().detail)) << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Texts, DecodeRejectsTest, ::testing::ValuesIn(RejectedTexts()),
                         [](const ::testing::TestParamInfo<RejectedText>& info) {
                           return info.param.name;
                         });

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

TEST(UvarintTest, ReadRejectsMalformedVarintsAndLeavesInputUnchanged) {
  struct Case {
    std::string hex;
    std::string detail;
  };
  for (const Case& c : std::vector<Case>{
           {"", "truncated"},
           {"ac82", "truncated"},
           // Ten bytes: more than the 9 the multiformats spec allows (values of 2^63 and above).
           {"80808080808080808001", "longer than 9 bytes"},
           // 0x81 0x00 is 1 written in two bytes.
           {"8100", "not minimally encoded"},
       }) {
    const std::string bytes = Hex(c.hex);
    absl::string_view in = bytes;
    absl::StatusOr<uint64_t> decoded = ReadUvarint(&in);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.hex;
    EXPECT_THAT(decoded.status().message(), HasSubstr(c.detail)) << c.hex;
    EXPECT_EQ(in.size(), bytes.size()) << c.hex;
  }
}

}  // namespace
}  // namespace kiln
