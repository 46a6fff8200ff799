#include "common/dag_cbor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace kiln::cbor {
namespace {

// CBOR major types (RFC 8949 section 3.1).
constexpr uint8_t kMajorUint = 0;
constexpr uint8_t kMajorNegInt = 1;
constexpr uint8_t kMajorBytes = 2;
constexpr uint8_t kMajorText = 3;
constexpr uint8_t kMajorArray = 4;
constexpr uint8_t kMajorMap = 5;
constexpr uint8_t kMajorTag = 6;
constexpr uint8_t kMajorSimple = 7;

// Additional-information values.
constexpr uint8_t kInfoOneByte = 24;
constexpr uint8_t kInfoTwoBytes = 25;
constexpr uint8_t kInfoFourBytes = 26;
constexpr uint8_t kInfoEightBytes = 27;
constexpr uint8_t kInfoIndefinite = 31;

// Major type 7 values.
constexpr uint8_t kSimpleFalse = 20;
constexpr uint8_t kSimpleTrue = 21;
constexpr uint8_t kSimpleNull = 22;
constexpr uint8_t kSimpleUndefined = 23;

constexpr uint64_t kTagCid = 42;

// Containers reserve at most this many elements up front and grow as elements actually decode.
// Reserving the declared count would let nested containers that each declare "everything that is
// left" hold about kMaxDagCborDepth times the input size before the decode fails.
constexpr uint64_t kMaxReserve = 1024;

// Appends the head of an item: the major type and its argument in the shortest form.
void AppendHead(std::string* out, uint8_t major, uint64_t arg) {
  const uint8_t mt = static_cast<uint8_t>(major << 5);
  if (arg < kInfoOneByte) {
    out->push_back(static_cast<char>(mt | arg));
    return;
  }
  int bytes;
  if (arg <= 0xff) {
    out->push_back(static_cast<char>(mt | kInfoOneByte));
    bytes = 1;
  } else if (arg <= 0xffff) {
    out->push_back(static_cast<char>(mt | kInfoTwoBytes));
    bytes = 2;
  } else if (arg <= 0xffffffff) {
    out->push_back(static_cast<char>(mt | kInfoFourBytes));
    bytes = 4;
  } else {
    out->push_back(static_cast<char>(mt | kInfoEightBytes));
    bytes = 8;
  }
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((arg >> (8 * i)) & 0xff));
  }
}

void Encode(const Value& value, std::string* out);

void EncodeLink(const Cid& cid, std::string* out) {
  const std::string cid_bytes = cid.ToBytes();
  AppendHead(out, kMajorTag, kTagCid);
  AppendHead(out, kMajorBytes, cid_bytes.size() + 1);
  out->push_back('\0');
  out->append(cid_bytes);
}

void Encode(const Value& value, std::string* out) {
  switch (value.kind()) {
    case Value::Kind::kNull:
      out->push_back(static_cast<char>((kMajorSimple << 5) | kSimpleNull));
      return;
    case Value::Kind::kBool:
      out->push_back(
          static_cast<char>((kMajorSimple << 5) | (*value.AsBool() ? kSimpleTrue : kSimpleFalse)));
      return;
    case Value::Kind::kInt:
      if (std::optional<uint64_t> u = value.AsUint64()) {
        AppendHead(out, kMajorUint, *u);
      } else {
        // Negative, so it fits in int64: -1 - i is in [0, 2^63 - 1].
        const int64_t i = *value.AsInt64();
        AppendHead(out, kMajorNegInt, static_cast<uint64_t>(-1 - i));
      }
      return;
    case Value::Kind::kFloat: {
      const double d = *value.AsFloat();
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof(bits));
      out->push_back(static_cast<char>((kMajorSimple << 5) | kInfoEightBytes));
      for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
      return;
    }
    case Value::Kind::kBytes:
      AppendHead(out, kMajorBytes, value.AsBytes()->size());
      out->append(*value.AsBytes());
      return;
    case Value::Kind::kText:
      AppendHead(out, kMajorText, value.AsText()->size());
      out->append(*value.AsText());
      return;
    case Value::Kind::kArray:
      AppendHead(out, kMajorArray, value.AsArray()->size());
      for (const Value& item : *value.AsArray()) Encode(item, out);
      return;
    case Value::Kind::kMap:
      AppendHead(out, kMajorMap, value.AsMap()->size());
      for (const auto& [key, item] : *value.AsMap()) {
        AppendHead(out, kMajorText, key.size());
        out->append(key);
        Encode(item, out);
      }
      return;
    case Value::Kind::kLink:
      EncodeLink(*value.AsLink(), out);
      return;
  }
}

// Length of the UTF-8 sequence starting at text[i] when it is well formed (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), otherwise 0.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80;
  uint8_t hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;  // Overlong.
    if (b0 == 0xed) hi = 0x9f;  // Surrogates.
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;  // Overlong.
    if (b0 == 0xf4) hi = 0x8f;  // Above U+10FFFF.
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  const uint8_t b1 = byte(i + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t FindInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return absl::string_view::npos;
}

}  // namespace

// Decodes one item at a time from a fixed input, tracking the offset for error messages.
// A friend of Value, so it can build maps already in order and negative integers directly.
class DagCborDecoder {
 public:
  explicit DagCborDecoder(absl::string_view in) : in_(in) {}

  absl::StatusOr<Value> DecodeAll() {
    if (in_.empty()) return Error(0, "input is empty");
    KILN_ASSIGN_OR_RETURN(Value value, DecodeItem(/*depth=*/1));
    if (pos_ != in_.size()) {
      return Error(pos_, absl::StrCat(in_.size() - pos_, " trailing byte(s) after the item"));
    }
    return value;
  }

 private:
  // An item's initial byte split into its parts, and the argument that follows it.
  struct Head {
    size_t offset;  // Of the initial byte.
    uint8_t major;
    uint8_t info;
    uint64_t arg;  // For major type 7 with info 25..27: the raw float bits.
  };

  static absl::Status Error(size_t offset, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid DAG-CBOR at byte ", offset, ": ", what));
  }

  size_t Remaining() const { return in_.size() - pos_; }

  // Reads the initial byte and the argument bytes, enforcing the shortest form for major types
  // 0..6. Leaves pos_ after the head.
  absl::StatusOr<Head> ReadHead() {
    if (Remaining() == 0) return Error(pos_, "unexpected end of input, expected an item");
    Head head;
    head.offset = pos_;
    const uint8_t initial = static_cast<uint8_t>(in_[pos_]);
    head.major = initial >> 5;
    head.info = initial & 0x1f;
    ++pos_;
    if (head.info < kInfoOneByte) {
      head.arg = head.info;
      return head;
    }
    if (head.info == kInfoIndefinite) {
      if (head.major == kMajorSimple) {
        return Error(head.offset, "unexpected \"break\" (0xff) outside an indefinite-length item");
      }
      if (head.major >= kMajorBytes && head.major <= kMajorMap) {
        return Error(head.offset, "indefinite-length items are not allowed in DAG-CBOR");
      }
      return Error(head.offset, absl::StrFormat("malformed initial byte 0x%02x", initial));
    }
    if (head.info > kInfoEightBytes) {
      return Error(
          head.offset,
          absl::StrFormat("reserved additional information in initial byte 0x%02x", initial));
    }
    const size_t size = size_t{1} << (head.info - kInfoOneByte);
    if (Remaining() < size) {
      return Error(head.offset, absl::StrCat("unexpected end of input: the item head needs ", size,
                                             " more byte(s), ", Remaining(), " left"));
    }
    uint64_t arg = 0;
    for (size_t i = 0; i < size; ++i) arg = (arg << 8) | static_cast<uint8_t>(in_[pos_ + i]);
    pos_ += size;
    head.arg = arg;
    if (head.major != kMajorSimple) {
      const uint64_t min = size == 1 ? kInfoOneByte : uint64_t{1} << (8 * size / 2);
      if (arg < min) {
        return Error(head.offset,
                     absl::StrCat("integer, length or tag ", arg, " is encoded in ", size,
                                  " byte(s); DAG-CBOR requires the shortest "
                                  "form"));
      }
    }
    return head;
  }

  // Reads `len` bytes of string content after a head at `offset`.
  absl::StatusOr<absl::string_view> ReadContent(size_t offset, uint64_t len) {
    if (len > Remaining()) {
      return Error(offset, absl::StrCat("declared length ", len, " exceeds the ", Remaining(),
                                        " byte(s) left in the input"));
    }
    absl::string_view content = in_.substr(pos_, len);
    pos_ += len;
    return content;
  }

  absl::StatusOr<std::string> ReadText(const Head& head, absl::string_view what) {
    KILN_ASSIGN_OR_RETURN(absl::string_view text, ReadContent(head.offset, head.arg));
    const size_t bad = FindInvalidUtf8(text);
    if (bad != absl::string_view::npos) {
      return Error(head.offset, absl::StrCat(what, " is not valid UTF-8 (at byte ",
                                             pos_ - text.size() + bad, ")"));
    }
    return std::string(text);
  }

  absl::StatusOr<Value> DecodeItem(int depth) {
    KILN_ASSIGN_OR_RETURN(Head head, ReadHead());
    switch (head.major) {
      case kMajorUint:
        return Value::Make(Value::IntRep{false, head.arg});
      case kMajorNegInt:
        if (head.arg > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Error(head.offset, "negative integer below -2^63 is not supported");
        }
        return Value::Make(Value::IntRep{true, head.arg});
      case kMajorBytes: {
        KILN_ASSIGN_OR_RETURN(absl::string_view bytes, ReadContent(head.offset, head.arg));
        return Value::Make(Value::BytesRep{std::string(bytes)});
      }
      case kMajorText: {
        KILN_ASSIGN_OR_RETURN(std::string text, ReadText(head, "text string"));
        return Value::Make(Value::TextRep{std::move(text)});
      }
      case kMajorArray:
        return DecodeArray(head, depth);
      case kMajorMap:
        return DecodeMap(head, depth);
      case kMajorTag:
        return DecodeTag(head);
      default:
        return DecodeSimple(head);
    }
  }

  absl::Status CheckDepth(const Head& head, int depth) const {
    if (depth > kMaxDagCborDepth) {
      return Error(head.offset,
                   absl::StrCat("containers nested deeper than ", kMaxDagCborDepth, " levels"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Value> DecodeArray(const Head& head, int depth) {
    KILN_RETURN_IF_ERROR(CheckDepth(head, depth));
    // Every element takes at least one byte.
    if (head.arg > Remaining()) {
      return Error(head.offset, absl::StrCat("array declares ", head.arg, " elements but only ",
                                             Remaining(), " byte(s) are left"));
    }
    std::vector<Value> items;
    items.reserve(std::min<uint64_t>(head.arg, kMaxReserve));
    for (uint64_t i = 0; i < head.arg; ++i) {
      KILN_ASSIGN_OR_RETURN(Value item, DecodeItem(depth + 1));
      items.push_back(std::move(item));
    }
    return Value::Make(std::move(items));
  }

  absl::StatusOr<Value> DecodeMap(const Head& head, int depth) {
    KILN_RETURN_IF_ERROR(CheckDepth(head, depth));
    // Every entry takes at least two bytes (a key and a value).
    if (head.arg > Remaining() / 2) {
      return Error(head.offset, absl::StrCat("map declares ", head.arg, " entries but only ",
                                             Remaining(), " byte(s) are left"));
    }
    Value::MapEntries entries;
    entries.reserve(std::min<uint64_t>(head.arg, kMaxReserve));
    for (uint64_t i = 0; i < head.arg; ++i) {
      KILN_ASSIGN_OR_RETURN(Head key_head, ReadHead());
      if (key_head.major != kMajorText) {
        return Error(key_head.offset, absl::StrCat("map key must be a text string (major type 3), "
                                                   "got major type ",
                                                   key_head.major));
      }
      KILN_ASSIGN_OR_RETURN(std::string key, ReadText(key_head, "map key"));
      if (!entries.empty()) {
        const std::string& prev = entries.back().first;
        if (key == prev) {
          return Error(key_head.offset,
                       absl::StrCat("duplicate map key \"", absl::CHexEscape(key), "\""));
        }
        if (!DagCborKeyLess(prev, key)) {
          return Error(key_head.offset,
                       absl::StrCat("map key \"", absl::CHexEscape(key),
                                    "\" is out of order: DAG-CBOR sorts keys by length, then "
                                    "bytewise, and it follows \"",
                                    absl::CHexEscape(prev), "\""));
        }
      }
      KILN_ASSIGN_OR_RETURN(Value item, DecodeItem(depth + 1));
      entries.emplace_back(std::move(key), std::move(item));
    }
    return Value::Make(std::move(entries));
  }

  absl::StatusOr<Value> DecodeTag(const Head& head) {
    if (head.arg != kTagCid) {
      return Error(head.offset,
                   absl::StrCat("tag ", head.arg, " is not allowed; DAG-CBOR allows only tag 42"));
    }
    KILN_ASSIGN_OR_RETURN(Head content, ReadHead());
    if (content.major != kMajorBytes) {
      return Error(content.offset,
                   absl::StrCat("tag 42 must wrap a byte string, got major type ", content.major));
    }
    KILN_ASSIGN_OR_RETURN(absl::string_view bytes, ReadContent(content.offset, content.arg));
    if (bytes.empty() || bytes[0] != '\0') {
      return Error(content.offset,
                   "tag 42 content must start with the 0x00 multibase identity prefix");
    }
    absl::StatusOr<Cid> cid = CidFromBytes(bytes.substr(1));
    if (!cid.ok()) {
      return Error(content.offset,
                   absl::StrCat("tag 42 content is not a valid CID: ", cid.status().message()));
    }
    return Value::Make(std::move(*cid));
  }

  absl::StatusOr<Value> DecodeSimple(const Head& head) {
    switch (head.info) {
      case kSimpleFalse:
        return Value::Make(false);
      case kSimpleTrue:
        return Value::Make(true);
      case kSimpleNull:
        return Value();
      case kSimpleUndefined:
        return Error(head.offset, "\"undefined\" is not allowed in DAG-CBOR");
      case kInfoTwoBytes:
      case kInfoFourBytes:
        return Error(head.offset, absl::StrCat(head.info == kInfoTwoBytes ? 16 : 32,
                                               "-bit float; DAG-CBOR floats must be 64-bit"));
      case kInfoEightBytes: {
        double d;
        std::memcpy(&d, &head.arg, sizeof(d));
        if (!std::isfinite(d)) {
          return Error(head.offset, "NaN and infinite floats are not allowed in DAG-CBOR");
        }
        return Value::Make(d);
      }
      default:
        return Error(head.offset,
                     "simple values other than false, true and null are not "
                     "allowed in DAG-CBOR");
    }
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

bool DagCborKeyLess(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  // string_view compares as unsigned char (char_traits<char>::compare uses memcmp semantics).
  return a.compare(b) < 0;
}

Value Value::Bool(bool b) { return Make(b); }

Value Value::Int(int64_t i) {
  if (i >= 0) return Make(IntRep{false, static_cast<uint64_t>(i)});
  return Make(IntRep{true, static_cast<uint64_t>(-1 - i)});
}

Value Value::Uint(uint64_t u) { return Make(IntRep{false, u}); }

Value Value::Float(double d) { return Make(d); }

Value Value::Bytes(std::string bytes) { return Make(BytesRep{std::move(bytes)}); }

Value Value::Text(std::string text) { return Make(TextRep{std::move(text)}); }

Value Value::Array(std::vector<Value> items) { return Make(std::move(items)); }

Value Value::Map(std::map<std::string, Value> entries) {
  MapEntries sorted;
  sorted.reserve(entries.size());
  for (auto& [key, value] : entries) sorted.emplace_back(key, std::move(value));
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return DagCborKeyLess(a.first, b.first); });
  return Make(std::move(sorted));
}

Value Value::Link(Cid cid) { return Make(std::move(cid)); }

std::optional<bool> Value::AsBool() const {
  if (const bool* b = std::get_if<bool>(&rep_)) return *b;
  return std::nullopt;
}

std::optional<int64_t> Value::AsInt64() const {
  const IntRep* i = std::get_if<IntRep>(&rep_);
  if (i == nullptr || i->arg > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  const int64_t magnitude = static_cast<int64_t>(i->arg);
  return i->negative ? -1 - magnitude : magnitude;
}

std::optional<uint64_t> Value::AsUint64() const {
  const IntRep* i = std::get_if<IntRep>(&rep_);
  if (i == nullptr || i->negative) return std::nullopt;
  return i->arg;
}

std::optional<double> Value::AsFloat() const {
  if (const double* d = std::get_if<double>(&rep_)) return *d;
  return std::nullopt;
}

const std::string* Value::AsBytes() const {
  const BytesRep* b = std::get_if<BytesRep>(&rep_);
  return b == nullptr ? nullptr : &b->bytes;
}

const std::string* Value::AsText() const {
  const TextRep* t = std::get_if<TextRep>(&rep_);
  return t == nullptr ? nullptr : &t->text;
}

const std::vector<Value>* Value::AsArray() const { return std::get_if<std::vector<Value>>(&rep_); }

const Value::MapEntries* Value::AsMap() const { return std::get_if<MapEntries>(&rep_); }

const Cid* Value::AsLink() const { return std::get_if<Cid>(&rep_); }

const Value* Value::Find(absl::string_view key) const {
  const MapEntries* entries = AsMap();
  if (entries == nullptr) return nullptr;
  auto it = std::lower_bound(
      entries->begin(), entries->end(), key,
      [](const auto& entry, absl::string_view k) { return DagCborKeyLess(entry.first, k); });
  if (it == entries->end() || it->first != key) return nullptr;
  return &it->second;
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return *a.AsBool() == *b.AsBool();
    case Value::Kind::kInt: {
      const auto& x = std::get<Value::IntRep>(a.rep_);
      const auto& y = std::get<Value::IntRep>(b.rep_);
      return x.negative == y.negative && x.arg == y.arg;
    }
    case Value::Kind::kFloat: {
      const double x = *a.AsFloat();
      const double y = *b.AsFloat();
      return std::memcmp(&x, &y, sizeof(x)) == 0;
    }
    case Value::Kind::kBytes:
      return *a.AsBytes() == *b.AsBytes();
    case Value::Kind::kText:
      return *a.AsText() == *b.AsText();
    case Value::Kind::kArray:
      return *a.AsArray() == *b.AsArray();
    case Value::Kind::kMap:
      return *a.AsMap() == *b.AsMap();
    case Value::Kind::kLink:
      return *a.AsLink() == *b.AsLink();
  }
  return false;
}

absl::StatusOr<Value> DecodeDagCbor(absl::string_view bytes) {
  return DagCborDecoder(bytes).DecodeAll();
}

std::string EncodeDagCbor(const Value& value) {
  std::string out;
  Encode(value, &out);
  return out;
}

}  // namespace kiln::cbor
