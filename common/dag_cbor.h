// A small, strict DAG-CBOR codec (https://ipld.io/specs/codecs/dag-cbor/spec/): the IPLD data model
// as a Value tree, a decoder that accepts only canonical DAG-CBOR, and the canonical encoder.
//
// Why not libcbor: DAG-CBOR is a strict profile of CBOR (minimal integer and length encodings,
// definite lengths, text-only map keys in length-first order, 64-bit floats, tag 42 only), and a
// generic CBOR library accepts everything that profile forbids, so each rule would still have to
// be re-checked on top of it; we also want a value model with CID links as a first-class kind.
//
// Kiln uses this for Fireproof meta events (see common/meta_event.h), whose CIDs hash these exact
// bytes, so "canonical only" matters: a block is accepted only in the one byte form that every
// IPLD encoder produces for its value.
//
// Stricter than @ipld/dag-cbor's decoder, which also accepts unsorted map keys and 16/32-bit
// floats; every DAG-CBOR encoder writes the canonical form, so real Fireproof blocks decode here.
//
// Threading: Value is a plain value type (copyable, movable; concurrent reads are safe). All
// functions are stateless and safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cid.h"

namespace kiln::cbor {

// Containers nested deeper than this (the top-level item counts as depth 1) are rejected by
// DecodeDagCbor, which bounds its recursion. Fireproof blocks nest only a few levels.
inline constexpr int kMaxDagCborDepth = 64;

// The DAG-CBOR map key order: shorter keys first, keys of equal length bytewise (unsigned). This is
// RFC 7049 canonical order applied to text keys, which is what DAG-CBOR requires.
bool DagCborKeyLess(absl::string_view a, absl::string_view b);

// One IPLD data model value. Always holds exactly one kind; the default is null.
//
// Integers cover [-2^63, 2^64 - 1]: every uint64 and every int64. DAG-CBOR can also write negative
// integers down to -2^64; those are rejected by DecodeDagCbor (no Fireproof structure uses them,
// and no C++ integer type holds them).
//
// Map entries are kept sorted in DagCborKeyLess order with unique keys, exactly as they are
// encoded.
class Value {
 public:
  enum class Kind { kNull, kBool, kInt, kFloat, kBytes, kText, kArray, kMap, kLink };

  // A map's entries, in DagCborKeyLess order of their keys, with no duplicate keys.
  using MapEntries = std::vector<std::pair<std::string, Value>>;

  // Null.
  Value() = default;

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Uint(uint64_t u);
  // DAG-CBOR has no NaN or infinities: a Value holding one encodes to bytes that DecodeDagCbor
  // rejects. Pass finite values only.
  static Value Float(double d);
  static Value Bytes(std::string bytes);
  // `text` should be valid UTF-8; EncodeDagCbor writes it as given and DecodeDagCbor rejects text
  // that is not UTF-8.
  static Value Text(std::string text);
  static Value Array(std::vector<Value> items);
  // Keys should be valid UTF-8 (as for Text). They are re-sorted into DagCborKeyLess order.
  static Value Map(std::map<std::string, Value> entries);
  static Value Link(Cid cid);

  Kind kind() const { return static_cast<Kind>(rep_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }

  // Typed accessors. Each returns nullopt / nullptr when the value is of another kind, so they
  // are safe on decoded (untrusted) values without checking kind() first.
  std::optional<bool> AsBool() const;
  // Also nullopt for an integer above INT64_MAX.
  std::optional<int64_t> AsInt64() const;
  // Also nullopt for a negative integer.
  std::optional<uint64_t> AsUint64() const;
  std::optional<double> AsFloat() const;
  const std::string* AsBytes() const;
  const std::string* AsText() const;
  const std::vector<Value>* AsArray() const;
  const MapEntries* AsMap() const;
  const Cid* AsLink() const;

  // The value stored under `key` when this is a map that has it; nullptr otherwise (including
  // when this is not a map). O(log n).
  const Value* Find(absl::string_view key) const;

  // Structural equality. Floats compare by bit pattern (so 0.0 != -0.0), which matches "encodes to
  // the same bytes".
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  // An integer as CBOR writes it: non-negative values are `arg`, negative ones are -1 - arg.
  struct IntRep {
    bool negative;
    uint64_t arg;
  };
  struct BytesRep {
    std::string bytes;
  };
  struct TextRep {
    std::string text;
  };

  // Alternatives are in Kind order, so rep_.index() is the Kind.
  using Rep = std::variant<std::monostate, bool, IntRep, double, BytesRep, TextRep,
                           std::vector<Value>, MapEntries, Cid>;

  // Builds the alternative T in place (no temporary variant to move from).
  template <typename T>
  Value(std::in_place_type_t<T> tag, T value) : rep_(tag, std::move(value)) {}
  template <typename T>
  static Value Make(T value) {
    return Value(std::in_place_type<T>, std::move(value));
  }

  friend class DagCborDecoder;

  Rep rep_;
};

// Decodes exactly one DAG-CBOR item that spans all of `bytes`. Returns INVALID_ARGUMENT, with a
// message "invalid DAG-CBOR at byte <offset>: <what is wrong>", when the input:
//   - is empty, is truncated, or has bytes after the first item;
//   - uses an indefinite length, a reserved additional-information value, or a non-minimal
//     integer / length / tag encoding;
//   - declares a length or element count larger than the input left (checked before any
//     allocation);
//   - has a map key that is not a text string, or map keys that are duplicated or not in
//     DagCborKeyLess order;
//   - has a tag other than 42, or a tag 42 whose content is not a byte string of 0x00 followed
//     by a valid binary CID (see CidFromBytes);
//   - has a float that is not 64-bit, or is NaN or infinite;
//   - has a simple value other than false, true and null (undefined included);
//   - has a negative integer below -2^63, or text that is not valid UTF-8;
//   - nests containers deeper than kMaxDagCborDepth.
// Never crashes on any input. The decoded Value takes at most about 64 bytes of memory per
// input byte, so callers bound the input size.
absl::StatusOr<Value> DecodeDagCbor(absl::string_view bytes);

// The canonical DAG-CBOR encoding of `value`: shortest integer and length forms, 64-bit floats,
// map keys in DagCborKeyLess order, links as tag 42 over 0x00 + the binary CID. For any value that
// DecodeDagCbor returned, EncodeDagCbor gives back the exact input bytes. Never fails (see the
// notes on Float and Text for values DAG-CBOR cannot represent). Recursive in the nesting depth.
std::string EncodeDagCbor(const Value& value);

}  // namespace kiln::cbor
