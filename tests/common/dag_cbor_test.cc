#include "common/dag_cbor.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mutate.h"

namespace kiln::cbor {
namespace {

using ::testing::HasSubstr;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// The CIDv1 dag-cbor sha2-256 of the empty map (0xa0).
constexpr absl::string_view kEmptyMapCid =
    "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua";

Cid EmptyMapCid() { return *ParseCid(kEmptyMapCid); }

// Produced with @ipld/dag-cbor 10.0.2 (cborg) under Node 20 from
//   {zz: -1, b: true, aaa: null,
//    a: [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, 18446744073709551615n,
//        -24, -25, -256, -257, -9223372036854775808n],
//    float: 1.5, neg_float: -0.1, bytes: Uint8Array [0, 1, 2, 255],
//    text: "h\u00e9llo \u2603 \u{1F600}", link: <kEmptyMapCid>, nested: {x: [[], {}], f: false},
//    empty: ""}
// with `Buffer.from(dagCbor.encode(v)).toString('hex')`. The encoder sorted the keys.
constexpr absl::string_view kJsVectorHex =
    "ab61618f0017181818ff19010019ffff1a000100001affffffff1b00000001000000001bffffffffffffffff3738"
    "1838ff3901003b7fffffffffffffff6162f5627a7a2063616161f6646c696e6bd82a58250001711220c19a797fa1"
    "fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a064746578746f68c3a96c6c6f20e2988320f09f"
    "988065627974657344000102ff65656d7074796065666c6f6174fb3ff8000000000000666e6573746564a2616"
    "6f461788280a0696e65675f666c6f6174fbbfb999999999999a";

Value JsVectorValue() {
  return Value::Map({
      {"zz", Value::Int(-1)},
      {"b", Value::Bool(true)},
      {"aaa", Value::Null()},
      {"a",
       Value::Array({Value::Int(0), Value::Int(23), Value::Int(24), Value::Int(255),
                     Value::Int(256), Value::Int(65535), Value::Int(65536), Value::Int(4294967295),
                     Value::Int(4294967296), Value::Uint(std::numeric_limits<uint64_t>::max()),
                     Value::Int(-24), Value::Int(-25), Value::Int(-256), Value::Int(-257),
                     Value::Int(std::numeric_limits<int64_t>::min())})},
      {"float", Value::Float(1.5)},
      {"neg_float", Value::Float(-0.1)},
      {"bytes", Value::Bytes(std::string("\x00\x01\x02\xff", 4))},
      {"text", Value::Text("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80")},
      {"link", Value::Link(EmptyMapCid())},
      {"nested", Value::Map({{"x", Value::Array({Value::Array({}), Value::Map({})})},
                             {"f", Value::Bool(false)}})},
      {"empty", Value::Text("")},
  });
}

TEST(DagCborTest, EncodeMatchesJsDagCborBytes) {
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(JsVectorValue())), kJsVectorHex);
}

TEST(DagCborTest, DecodeOfJsDagCborBytesGivesTheValueAndReencodesIdentically) {
  const std::string bytes = Hex(kJsVectorHex);
  absl::StatusOr<Value> value = DecodeDagCbor(bytes);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, JsVectorValue());
  EXPECT_EQ(EncodeDagCbor(*value), bytes);

  ASSERT_NE(value->Find("link"), nullptr);
  ASSERT_NE(value->Find("link")->AsLink(), nullptr);
  EXPECT_EQ(value->Find("link")->AsLink()->ToString(), kEmptyMapCid);
  EXPECT_EQ(value->Find("float")->AsFloat(), 1.5);
  EXPECT_EQ(*value->Find("bytes")->AsBytes(), std::string("\x00\x01\x02\xff", 4));
  const std::vector<Value>* a = value->Find("a")->AsArray();
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->size(), 15u);
  EXPECT_EQ((*a)[9].AsUint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ((*a)[14].AsInt64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(value->Find("nested")->Find("f")->AsBool(), false);
}

TEST(DagCborTest, MapKeysAreSortedLengthFirstThenBytewise) {
  const Value map = Value::Map({{"bb", Value::Int(1)},
                                {"a", Value::Int(2)},
                                {"ab", Value::Int(3)},
                                {"\xc3\xa9", Value::Int(4)},
                                {"z", Value::Int(5)}});
  std::vector<std::string> keys;
  for (const auto& [key, value] : *map.AsMap()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("a", "z", "ab", "bb", "\xc3\xa9"));
  EXPECT_TRUE(DagCborKeyLess("z", "aa"));
  EXPECT_TRUE(DagCborKeyLess("a", "\xc3"));  // Bytes compare unsigned.
  EXPECT_FALSE(DagCborKeyLess("a", "a"));
}

TEST(DagCborTest, FindReturnsNullForMissingKeysAndNonMaps) {
  const Value map = Value::Map({{"a", Value::Int(1)}, {"bb", Value::Int(2)}});
  ASSERT_NE(map.Find("bb"), nullptr);
  EXPECT_EQ(map.Find("bb")->AsInt64(), 2);
  EXPECT_EQ(map.Find("b"), nullptr);
  EXPECT_EQ(map.Find(""), nullptr);
  EXPECT_EQ(Value::Array({Value::Int(1)}).Find("a"), nullptr);
  EXPECT_EQ(Value::Text("a").Find("a"), nullptr);
}

TEST(DagCborTest, AccessorsOfAnotherKindReturnNothing) {
  const Value text = Value::Text("x");
  EXPECT_EQ(text.kind(), Value::Kind::kText);
  EXPECT_EQ(text.AsBytes(), nullptr);
  EXPECT_EQ(text.AsArray(), nullptr);
  EXPECT_EQ(text.AsMap(), nullptr);
  EXPECT_EQ(text.AsLink(), nullptr);
  EXPECT_FALSE(text.AsBool().has_value());
  EXPECT_FALSE(text.AsInt64().has_value());
  EXPECT_FALSE(text.AsFloat().has_value());
  EXPECT_TRUE(Value().is_null());
  EXPECT_FALSE(Value::Uint(std::numeric_limits<uint64_t>::max()).AsInt64().has_value());
  EXPECT_FALSE(Value::Int(-1).AsUint64().has_value());
  EXPECT_EQ(Value::Int(5).AsUint64(), 5u);
  EXPECT_EQ(Value::Int(5), Value::Uint(5));
  EXPECT_NE(Value::Float(0.0), Value::Float(-0.0));
  EXPECT_NE(Value::Bytes("a"), Value::Text("a"));
}

struct IntVector {
  Value value;
  absl::string_view hex;
};

TEST(DagCborTest, IntegersUseTheShortestHeadAndRoundTrip) {
  const IntVector vectors[] = {
      {Value::Int(0), "00"},
      {Value::Int(23), "17"},
      {Value::Int(24), "1818"},
      {Value::Int(255), "18ff"},
      {Value::Int(256), "190100"},
      {Value::Int(65535), "19ffff"},
      {Value::Int(65536), "1a00010000"},
      {Value::Int(4294967295), "1affffffff"},
      {Value::Int(4294967296), "1b0000000100000000"},
      {Value::Int(std::numeric_limits<int64_t>::max()), "1b7fffffffffffffff"},
      {Value::Uint(std::numeric_limits<uint64_t>::max()), "1bffffffffffffffff"},
      {Value::Int(-1), "20"},
      {Value::Int(-24), "37"},
      {Value::Int(-25), "3818"},
      {Value::Int(-256), "38ff"},
      {Value::Int(-257), "390100"},
      {Value::Int(std::numeric_limits<int64_t>::min()), "3b7fffffffffffffff"},
  };
  for (const IntVector& v : vectors) {
    EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(v.value)), v.hex);
    absl::StatusOr<Value> decoded = DecodeDagCbor(Hex(v.hex));
    ASSERT_TRUE(decoded.ok()) << v.hex << ": " << decoded.status();
    EXPECT_EQ(*decoded, v.value) << v.hex;
  }
}

TEST(DagCborTest, ScalarsAndLinksEncodeCanonically) {
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value())), "f6");
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Bool(false))), "f4");
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Bool(true))), "f5");
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Float(1.5))), "fb3ff8000000000000");
  // A float with an integral value stays a 64-bit float.
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Float(2.0))), "fb4000000000000000");
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Bytes(std::string(24, 'x')))).substr(0, 4),
            "5818");
  // From @ipld/dag-cbor: `dagCbor.encode(CID.parse(kEmptyMapCid))`.
  EXPECT_EQ(absl::BytesToHexString(EncodeDagCbor(Value::Link(EmptyMapCid()))),
            "d82a58250001711220c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0");
}

TEST(DagCborTest, DepthLimitAllowsMaxDepthAndRejectsOneMore) {
  const std::string ok = std::string(kMaxDagCborDepth - 1, '\x81') + "\x80";
  EXPECT_TRUE(DecodeDagCbor(ok).ok());
  const std::string deep = std::string(kMaxDagCborDepth, '\x81') + "\x80";
  absl::StatusOr<Value> decoded = DecodeDagCbor(deep);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("nested deeper than 64"));
  // Maps count too: {"a": [[...]]}.
  const std::string deep_map = "\xa1\x61\x61" + std::string(kMaxDagCborDepth - 1, '\x81') + "\x80";
  EXPECT_EQ(DecodeDagCbor(deep_map).status().code(), absl::StatusCode::kInvalidArgument);
}

// 256 KiB of arrays nested kMaxDagCborDepth deep, each declaring as many elements as there are
// bytes left, then zeros: the innermost array decodes, the next one runs out of input. Reserving
// each declared count up front would hold 64 x 16 MiB at once (bad_alloc under
// `ulimit -v 500000`, where the capped decoder passes); the decoder must not.
TEST(DagCborTest, NestedContainersDeclaringTheWholeRestOfTheInputAreRejectedCheaply) {
  constexpr size_t kSize = size_t{1} << 18;
  std::string input;
  for (int level = 0; level < kMaxDagCborDepth; ++level) {
    const uint32_t rest = static_cast<uint32_t>(kSize - input.size() - 5);
    input += '\x9a';  // Array, 4-byte count.
    for (int shift = 24; shift >= 0; shift -= 8) input += static_cast<char>((rest >> shift) & 0xff);
  }
  input.resize(kSize, '\0');
  absl::StatusOr<Value> decoded = DecodeDagCbor(input);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("unexpected end of input"));
}

struct Rejection {
  absl::string_view hex;
  absl::string_view message;  // A substring of the error message.
};

TEST(DagCborTest, DecodeRejectsNonCanonicalOrUnsupportedInputWithOffset) {
  const Rejection rejections[] = {
      {"", "at byte 0: input is empty"},
      {"0000", "at byte 1: 1 trailing byte(s)"},
      {"18", "at byte 0: unexpected end of input"},
      {"82", "at byte 0: array declares 2 elements but only 0 byte(s) are left"},
      {"828100", "at byte 3: unexpected end of input, expected an item"},
      // Non-minimal integers, lengths and tags.
      {"1817", "at byte 0: integer, length or tag 23 is encoded in 1 byte(s)"},
      {"1900ff", "shortest form"},
      {"1a0000ffff", "shortest form"},
      {"1b00000000ffffffff", "shortest form"},
      {"3817", "shortest form"},
      {"5801ff", "shortest form"},
      {"8200980100", "at byte 2: integer, length or tag 1"},
      {"d9002a4100", "tag 42 is encoded in 2 byte(s)"},
      // Indefinite lengths and reserved values.
      {"5fff", "indefinite-length items are not allowed"},
      {"7fff", "indefinite-length items are not allowed"},
      {"9fff", "indefinite-length items are not allowed"},
      {"bfff", "indefinite-length items are not allowed"},
      {"ff", "\"break\""},
      {"1f", "malformed initial byte 0x1f"},
      {"1c", "reserved additional information"},
      {"fe", "reserved additional information"},
      // Declared sizes beyond the input.
      {"5affffffff00", "declared length 4294967295 exceeds the 1 byte(s) left"},
      {"7b7fffffffffffffff", "declared length 9223372036854775807 exceeds"},
      {"9bffffffffffffffff", "array declares 18446744073709551615 elements"},
      {"bbffffffffffffffff", "map declares 18446744073709551615 entries"},
      {"a26161", "map declares 2 entries but only 2 byte(s)"},
      // Map keys.
      {"a10101", "at byte 1: map key must be a text string"},
      {"a1410001", "map key must be a text string (major type 3), got major type 2"},
      {"a2616201616102", "at byte 4: map key \"a\" is out of order"},
      {"a262616101616202", "map key \"b\" is out of order"},  // Bytewise order is not enough.
      {"a2616101616102", "at byte 4: duplicate map key \"a\""},
      {"a161c0f6", "map key is not valid UTF-8"},
      // Tags.
      {"c100", "tag 1 is not allowed"},
      {"c249010000000000000000", "tag 2 is not allowed"},
      {"d82a6100", "tag 42 must wrap a byte string"},
      {"d82a40", "must start with the 0x00 multibase identity prefix"},
      {"d82a5824"
       "01711220c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0",
       "0x00 multibase identity prefix"},
      {"d82a43000171", "tag 42 content is not a valid CID"},
      {"d82a5826"
       "0001711220c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a000",
       "tag 42 content is not a valid CID"},
      // Floats and simple values.
      {"f93c00", "16-bit float; DAG-CBOR floats must be 64-bit"},
      {"fa3fc00000", "32-bit float"},
      {"fb7ff8000000000000", "NaN and infinite floats are not allowed"},
      {"fb7ff0000000000000", "NaN and infinite"},
      {"fbfff0000000000000", "NaN and infinite"},
      {"f7", "\"undefined\" is not allowed"},
      {"f0", "simple values other than false, true and null"},
      {"f818", "simple values other than"},
      {"f8ff", "simple values other than"},
      // Integers out of range and bad text.
      {"3b8000000000000000", "negative integer below -2^63"},
      {"62c328", "text string is not valid UTF-8 (at byte 1)"},
      {"62c0af", "not valid UTF-8"},      // Overlong '/'.
      {"63eda080", "not valid UTF-8"},    // A surrogate.
      {"64f4908080", "not valid UTF-8"},  // Above U+10FFFF.
      {"61ff", "not valid UTF-8"},
  };
  for (const Rejection& r : rejections) {
    absl::StatusOr<Value> decoded = DecodeDagCbor(Hex(r.hex));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << r.hex;
    const std::string message(decoded.status().message());
    EXPECT_THAT(message, HasSubstr(r.message)) << r.hex;
    EXPECT_THAT(message, HasSubstr("invalid DAG-CBOR at byte ")) << r.hex;
  }
}

// Valid encodings to mutate: the JS vector, a Fireproof-like meta event and some small items.
std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds = {Hex(kJsVectorHex)};
  std::vector<Value> parents = {
      Value::Link(EmptyMapCid()),
      Value::Link(*ParseCid("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"))};
  seeds.push_back(EncodeDagCbor(Value::Map({
      {"data", Value::Map({{"dbMeta", Value::Bytes(R"({"cars":[{"/":"baembei"}]})")}})},
      {"parents", Value::Array(parents)},
  })));
  seeds.push_back(EncodeDagCbor(Value::Array(
      {Value::Int(-1000000), Value::Float(-0.5), Value::Text("\xe2\x98\x83"), Value()})));
  seeds.push_back(EncodeDagCbor(Value::Uint(std::numeric_limits<uint64_t>::max())));
  return seeds;
}

TEST(DagCborTest, MutatedAndTruncatedInputsNeverCrashAndAcceptedInputsAreCanonical) {
  const uint32_t seed = kiln::testing::FuzzSeed();
  LOG(INFO) << "DagCborTest fuzz seed " << seed << " (rerun with KILN_FUZZ_SEED=" << seed << ")";
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> seeds = FuzzSeeds();
  int accepted = 0;
  for (int round = 0; round < 50000; ++round) {
    std::string input = seeds[rng() % seeds.size()];
    // Overwrites favour bytes with meaning in heads.
    kiln::testing::Mutate(rng, input, [](std::mt19937& r) {
      return static_cast<char>(r() % 2 ? r() & 0xff : 0x18 + r() % 8);
    });
    absl::StatusOr<Value> decoded = DecodeDagCbor(input);
    if (decoded.ok()) {
      ++accepted;
      // Strictness means an accepted input is the one canonical encoding of its value.
      ASSERT_EQ(EncodeDagCbor(*decoded), input) << absl::BytesToHexString(input);
    } else {
      ASSERT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
          << absl::BytesToHexString(input);
    }
  }
  // Random bytes as well, including lengths just past every head size.
  for (int round = 0; round < 20000; ++round) {
    std::string input(rng() % 24, '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xff);
    absl::StatusOr<Value> decoded = DecodeDagCbor(input);
    if (decoded.ok()) {
      ASSERT_EQ(EncodeDagCbor(*decoded), input) << absl::BytesToHexString(input);
    }
  }
  LOG(INFO) << "accepted " << accepted << " of 50000 mutated inputs";
}

}  // namespace
}  // namespace kiln::cbor
