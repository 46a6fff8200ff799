// Content identifiers (https://github.com/multiformats/cid): parsing, printing and the binary form.
//
// Fireproof addresses blocks inside CARs with CIDv1 dag-cbor sha2-256 ("bafyrei..."), and whole CAR
// files with CIDv1 codec 0x18 sha2-256 ("baembei..."); see section 6 of the Fireproof cloud
// protocol notes (fireproof-cloud-protocol.md). CIDv0 ("Qm...", dag-pb sha2-256) is accepted for
// completeness.
//
// A Cid is an immutable value type, always valid once constructed (construct with Cid::Create,
// ParseCid, CidFromBytes, ReadCidBytes or CidForSha256). Safe to share between threads; all
// functions are stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/multibase.h"
#include "common/varint.h"

namespace kiln {

// Multicodec codes (https://github.com/multiformats/multicodec/blob/master/table.csv).
inline constexpr uint64_t kCodecRaw = 0x55;
inline constexpr uint64_t kCodecDagPb = 0x70;
inline constexpr uint64_t kCodecDagCbor = 0x71;
// The codec Fireproof puts in the CIDs of whole CAR files ("car" store keys, "baembei..."), per
// section 6 of the protocol notes. Note this is 0x18, not the registered "car" multicodec 0x0202:
// it is what Fireproof clients actually send, so it must be matched exactly.
inline constexpr uint64_t kCodecFireproofCar = 0x18;

// Multihash function codes.
inline constexpr uint64_t kMultihashSha256 = 0x12;
inline constexpr size_t kSha256DigestSize = 32;

// Longest digest accepted in a CID. Real hashes are at most 64 bytes; the cap bounds memory for
// identity multihashes and hostile input.
inline constexpr size_t kMaxCidDigestSize = 128;
// Longest CID text ParseCid accepts.
inline constexpr size_t kMaxCidTextSize = 4096;

class Cid {
 public:
  // Builds a CID from its parts. Returns INVALID_ARGUMENT when:
  //   - version is not 0 or 1;
  //   - version is 0 and the CID is not dag-pb (0x70) with a 32-byte sha2-256 digest;
  //   - codec or hash_code exceed kMaxUvarint (they could not be written as varints);
  //   - the digest is longer than kMaxCidDigestSize, or hash_code is sha2-256 and the digest is
  //     not 32 bytes.
  static absl::StatusOr<Cid> Create(uint64_t version, uint64_t codec, uint64_t hash_code,
                                    absl::string_view digest);

  uint64_t version() const { return version_; }
  uint64_t codec() const { return codec_; }
  uint64_t hash_code() const { return hash_code_; }
  // The raw digest bytes (without the multihash code and length).
  const std::string& digest() const { return digest_; }

  // The canonical text form: multibase base32 ("b...") for CIDv1, bare base58btc ("Qm...") for
  // CIDv0. Use this form for keys, file names and comparisons of text.
  std::string ToString() const;
  // The CIDv1 text form in `base`, with its multibase prefix. A CIDv0 has a single text form and
  // always prints as bare base58btc "Qm...", whatever `base` is. ParseCid reads every result back.
  std::string ToString(Multibase base) const;

  // The binary form. CIDv1: varint(version) varint(codec) varint(hash_code) varint(digest
  // length) digest. CIDv0: the bare multihash 0x12 0x20 digest. This is what CAR sections and
  // dag-cbor tag 42 links carry (tag 42 adds a leading 0x00 byte, see CidFromBytes).
  std::string ToBytes() const;

  // The same content address as a CIDv1 (a CIDv0 becomes dag-pb CIDv1; a CIDv1 is unchanged).
  Cid ToV1() const;

  friend bool operator==(const Cid& a, const Cid& b) { return a.Tie() == b.Tie(); }
  friend bool operator!=(const Cid& a, const Cid& b) { return !(a == b); }
  // An arbitrary but stable total order (by version, codec, hash code, then digest bytes), for
  // sorted containers and deterministic output.
  friend bool operator<(const Cid& a, const Cid& b) { return a.Tie() < b.Tie(); }

  // absl::Hash support, so Cid can key absl::flat_hash_map and absl::flat_hash_set.
  template <typename H>
  friend H AbslHashValue(H h, const Cid& cid) {
    return H::combine(std::move(h), cid.version_, cid.codec_, cid.hash_code_, cid.digest_);
  }

  // Prints ToString(), for logs and test failure messages.
  friend std::ostream& operator<<(std::ostream& os, const Cid& cid) { return os << cid.ToString(); }

 private:
  Cid(uint64_t version, uint64_t codec, uint64_t hash_code, std::string digest)
      : version_(version), codec_(codec), hash_code_(hash_code), digest_(std::move(digest)) {}

  std::tuple<uint64_t, uint64_t, uint64_t, const std::string&> Tie() const {
    return {version_, codec_, hash_code_, digest_};
  }

  friend Cid CidForSha256(uint64_t codec, absl::string_view block_bytes);

  uint64_t version_;
  uint64_t codec_;
  uint64_t hash_code_;
  std::string digest_;
};

// Parses CID text: a CIDv1 in any supported multibase (canonically "b..." base32 or "z..."
// base58btc; "M"/"m" base64 also work) or a CIDv0 as 46 characters of bare base58btc starting
// "Qm". Returns INVALID_ARGUMENT, with a message starting "invalid CID: ", when the text is empty
// or longer than kMaxCidTextSize, the multibase prefix is unsupported, a character is not in the
// base's alphabet, the decoded bytes are not a CID (see CidFromBytes), or a CIDv0 multihash is
// written with a multibase prefix.
absl::StatusOr<Cid> ParseCid(absl::string_view text);

// Parses the binary form of exactly one CID (see Cid::ToBytes). Bytes starting 0x12 0x20 are a
// CIDv0 multihash; anything else must be a CIDv1. dag-cbor tag 42 links carry a leading 0x00
// (the multibase "identity" prefix) that is not part of the CID: the CBOR layer strips it before
// calling this. Returns INVALID_ARGUMENT when the input is empty, a varint is malformed, the
// version is not 1, the multihash is truncated or its declared length is wrong for the hash
// function, the CID is invalid per Cid::Create, or any bytes follow the CID.
absl::StatusOr<Cid> CidFromBytes(absl::string_view bytes);

// Reads one binary CID from the front of `*in` and advances `*in` past it, leaving any bytes
// after it (as in a CAR section, where the block data follows the CID). Returns the same errors
// as CidFromBytes except for trailing bytes; on error `*in` is unchanged.
absl::StatusOr<Cid> ReadCidBytes(absl::string_view* in);

// The CIDv1 with `codec` and the sha2-256 of `block_bytes`. Precondition: codec <= kMaxUvarint
// (true for the kCodec* constants and any codec taken from a parsed Cid).
Cid CidForSha256(uint64_t codec, absl::string_view block_bytes);

}  // namespace kiln
