// Fuzz target: CID and multibase parsing (common/cid.h, common/multibase.h). The first byte picks
// the entry point, the rest is its input. Properties: parsers never crash and fail only with
// INVALID_ARGUMENT; the decoders are strict, so whatever they accept prints back to exactly the
// input, and a parsed CID reads back from every text form it prints.
#include <string>

#include "common/cid.h"
#include "common/multibase.h"
#include "tests/fuzz/fuzz_check.h"

namespace kiln::fuzz {
namespace {

constexpr Multibase kBases[] = {Multibase::kBase32, Multibase::kBase58Btc, Multibase::kBase64Pad,
                                Multibase::kBase64};

void CheckRefused(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
}

void CheckCidRoundTrips(const Cid& cid) {
  for (Multibase base : kBases) {
    absl::StatusOr<Cid> again = ParseCid(cid.ToString(base));
    FUZZ_CHECK(again.ok() && *again == cid);
  }
  absl::StatusOr<Cid> from_bytes = CidFromBytes(cid.ToBytes());
  FUZZ_CHECK(from_bytes.ok() && *from_bytes == cid);
}

void ParseCidText(absl::string_view text) {
  absl::StatusOr<Cid> cid = ParseCid(text);
  if (!cid.ok()) return CheckRefused(cid.status());
  CheckCidRoundTrips(*cid);
  // Strict decoding: the text is the CID's form in the base its prefix names.
  if (cid->version() == 0) {
    FUZZ_CHECK(cid->ToString() == text);
    return;
  }
  for (Multibase base : kBases) {
    if (MultibasePrefix(base) == text[0]) FUZZ_CHECK(cid->ToString(base) == text);
  }
}

void ParseCidBinary(absl::string_view bytes) {
  absl::StatusOr<Cid> cid = CidFromBytes(bytes);
  if (!cid.ok()) return CheckRefused(cid.status());
  FUZZ_CHECK(cid->ToBytes() == bytes);
  CheckCidRoundTrips(*cid);
}

void ReadCidPrefix(absl::string_view bytes) {
  absl::string_view rest = bytes;
  absl::StatusOr<Cid> cid = ReadCidBytes(&rest);
  if (!cid.ok()) {
    FUZZ_CHECK(rest == bytes);  // unchanged on error
    return CheckRefused(cid.status());
  }
  FUZZ_CHECK(rest.size() < bytes.size());
  FUZZ_CHECK(cid->ToBytes() == bytes.substr(0, bytes.size() - rest.size()));
}

void DecodeMultibase(absl::string_view text) {
  absl::StatusOr<std::string> bytes = MultibaseDecode(text);
  if (!bytes.ok()) return CheckRefused(bytes.status());
  for (Multibase base : kBases) {
    if (MultibasePrefix(base) == text[0]) FUZZ_CHECK(MultibaseEncode(base, *bytes) == text);
  }
}

void DecodeRaw(uint8_t selector, absl::string_view text) {
  switch (selector % 4) {
    case 0: {
      absl::StatusOr<std::string> b = Base32Decode(text);
      if (!b.ok()) return CheckRefused(b.status());
      FUZZ_CHECK(Base32Encode(*b) == text);
      return;
    }
    case 1: {
      absl::StatusOr<std::string> b = Base58BtcDecode(text);
      if (!b.ok()) return CheckRefused(b.status());
      FUZZ_CHECK(Base58BtcEncode(*b) == text);
      return;
    }
    default: {
      const Base64Padding padding =
          selector % 4 == 2 ? Base64Padding::kRequired : Base64Padding::kNone;
      absl::StatusOr<std::string> b = Base64Decode(text, padding);
      if (!b.ok()) return CheckRefused(b.status());
      FUZZ_CHECK(Base64Encode(*b, padding) == text);
      return;
    }
  }
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input = kiln::fuzz::AsText(data, size);
  const uint8_t selector = kiln::fuzz::TakeSelector(&input);
  switch (selector % 5) {
    case 0:
      kiln::fuzz::ParseCidText(input);
      break;
    case 1:
      kiln::fuzz::ParseCidBinary(input);
      break;
    case 2:
      kiln::fuzz::ReadCidPrefix(input);
      break;
    case 3:
      kiln::fuzz::DecodeMultibase(input);
      break;
    default:
      kiln::fuzz::DecodeRaw(selector / 5, input);
      break;
  }
  return 0;
}
