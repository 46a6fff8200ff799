#include "common/cid.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/varint.h"
#include "glog/logging.h"

namespace kiln {
namespace {

// Length in characters of a CIDv0 text ("Qm" + 44 base58btc characters for 34 bytes).
constexpr size_t kCidV0TextSize = 46;

absl::Status CidError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid CID: ", what));
}

// Prefixes an error from a lower layer (varint, multibase) with "invalid CID: ".
absl::Status WrapError(const absl::Status& status, absl::string_view context) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid CID: ", context, context.empty() ? "" : ": ", status.message()));
}

bool StartsWithV0Multihash(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == kMultihashSha256 &&
         static_cast<uint8_t>(bytes[1]) == kSha256DigestSize;
}

}  // namespace

absl::StatusOr<Cid> Cid::Create(uint64_t version, uint64_t codec, uint64_t hash_code,
                                absl::string_view digest) {
  if (version == 0) {
    if (codec != kCodecDagPb || hash_code != kMultihashSha256 ||
        digest.size() != kSha256DigestSize) {
      return CidError("a CIDv0 must be dag-pb (0x70) with a 32-byte sha2-256 (0x12) digest");
    }
  } else if (version != 1) {
    return CidError(absl::StrCat("unsupported version ", version, " (only 0 and 1 exist)"));
  }
  if (codec > kMaxUvarint) return CidError("codec does not fit in a varint");
  if (hash_code > kMaxUvarint) return CidError("multihash code does not fit in a varint");
  if (digest.size() > kMaxCidDigestSize) {
    return CidError(absl::StrCat("digest of ", digest.size(), " bytes exceeds the limit of ",
                                 kMaxCidDigestSize));
  }
  if (hash_code == kMultihashSha256 && digest.size() != kSha256DigestSize) {
    return CidError(absl::StrCat("sha2-256 digest must be 32 bytes, got ", digest.size()));
  }
  return Cid(version, codec, hash_code, std::string(digest));
}

std::string Cid::ToString() const { return ToString(Multibase::kBase32); }

std::string Cid::ToString(Multibase base) const {
  if (version_ == 0) return Base58BtcEncode(ToBytes());
  return MultibaseEncode(base, ToBytes());
}

std::string Cid::ToBytes() const {
  std::string out;
  out.reserve(4 * 3 + 2 + digest_.size());
  if (version_ != 0) {
    AppendUvarint(&out, version_);
    AppendUvarint(&out, codec_);
  }
  AppendUvarint(&out, hash_code_);
  AppendUvarint(&out, digest_.size());
  out += digest_;
  return out;
}

Cid Cid::ToV1() const { return Cid(1, codec_, hash_code_, digest_); }

absl::StatusOr<Cid> ReadCidBytes(absl::string_view* in) {
  absl::string_view rest = *in;
  if (rest.empty()) return CidError("binary CID is empty");

  uint64_t version = 0;
  uint64_t codec = kCodecDagPb;
  if (StartsWithV0Multihash(rest)) {
    // CIDv0: the bare multihash, implicitly version 0, dag-pb.
  } else {
    absl::StatusOr<uint64_t> v = ReadUvarint(&rest);
    if (!v.ok()) return WrapError(v.status(), "version");
    version = *v;
    if (version != 1) {
      return CidError(absl::StrCat(
          "unsupported version ", version,
          version == 0 ? " (a binary CIDv0 is a bare 0x12 0x20 multihash)" : " (expected 1)"));
    }
    absl::StatusOr<uint64_t> c = ReadUvarint(&rest);
    if (!c.ok()) return WrapError(c.status(), "codec");
    codec = *c;
  }

  absl::StatusOr<uint64_t> hash_code = ReadUvarint(&rest);
  if (!hash_code.ok()) return WrapError(hash_code.status(), "multihash code");
  absl::StatusOr<uint64_t> length = ReadUvarint(&rest);
  if (!length.ok()) return WrapError(length.status(), "multihash length");
  if (*length > kMaxCidDigestSize) {
    return CidError(absl::StrCat("multihash declares a ", *length,
                                 "-byte digest, over the limit of ", kMaxCidDigestSize));
  }
  if (rest.size() < *length) {
    return CidError(absl::StrCat("digest is truncated: multihash declares ", *length,
                                 " bytes but only ", rest.size(), " remain"));
  }
  absl::StatusOr<Cid> cid = Cid::Create(version, codec, *hash_code, rest.substr(0, *length));
  if (!cid.ok()) return cid.status();
  rest.remove_prefix(*length);
  *in = rest;
  return cid;
}

absl::StatusOr<Cid> CidFromBytes(absl::string_view bytes) {
  absl::StatusOr<Cid> cid = ReadCidBytes(&bytes);
  if (!cid.ok()) return cid.status();
  if (!bytes.empty()) {
    return CidError(absl::StrCat(bytes.size(), " unexpected trailing byte",
                                 bytes.size() == 1 ? "" : "s", " after the digest"));
  }
  return cid;
}

absl::StatusOr<Cid> ParseCid(absl::string_view text) {
  if (text.empty()) return CidError("text is empty");
  if (text.size() > kMaxCidTextSize) {
    return CidError(absl::StrCat("text of ", text.size(), " characters exceeds the limit of ",
                                 kMaxCidTextSize));
  }
  if (text[0] == 'Q') {
    // No multibase uses 'Q'; this is a CIDv0, "Qm" followed by 44 base58btc characters.
    if (text.size() != kCidV0TextSize) {
      return CidError(
          absl::StrCat("CIDv0 text must be ", kCidV0TextSize, " characters, got ", text.size()));
    }
    absl::StatusOr<std::string> bytes = Base58BtcDecode(text);
    if (!bytes.ok()) return WrapError(bytes.status(), "CIDv0");
    if (!StartsWithV0Multihash(*bytes)) {
      return CidError("a CIDv0 must be a sha2-256 multihash (0x12 0x20 ...)");
    }
    return CidFromBytes(*bytes);
  }
  absl::StatusOr<std::string> bytes = MultibaseDecode(text);
  if (!bytes.ok()) return WrapError(bytes.status(), "");
  if (StartsWithV0Multihash(*bytes)) {
    return CidError(
        "a CIDv0 must be written as bare base58btc (\"Qm...\") without a multibase prefix");
  }
  return CidFromBytes(*bytes);
}

Cid CidForSha256(uint64_t codec, absl::string_view block_bytes) {
  CHECK_LE(codec, kMaxUvarint) << "codec constant out of range";
  return Cid(1, codec, kMultihashSha256, DigestBytes(Sha256(block_bytes)));
}

}  // namespace kiln
