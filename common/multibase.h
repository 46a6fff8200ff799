// Multibase text encodings of byte strings (https://github.com/multiformats/multibase), limited to
// the bases Fireproof uses: base32 lower-case without padding (CIDs), base58btc (CIDs and keys),
// and base64 with and without padding.
//
// Decoders are strict so that every byte string has exactly one text form per base: characters
// outside the alphabet, non-zero trailing bits and wrong padding are rejected rather than
// ignored. Error messages name the problem and the character position in the text given to the
// function, and never echo more than one (escaped) input character.
//
// All functions are stateless and safe to call from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// The multibase encodings supported here; the comment gives the multibase prefix character.
enum class Multibase {
  kBase32,     // 'b': RFC 4648 base32, lower-case alphabet, no padding.
  kBase58Btc,  // 'z': base58 with the bitcoin alphabet.
  kBase64Pad,  // 'M': RFC 4648 base64, standard alphabet, '=' padding.
  kBase64,     // 'm': RFC 4648 base64, standard alphabet, no padding.
};

// Base58 conversion is quadratic in the input length, so decoding refuses text longer than this.
// CIDs and 16-byte keys are far shorter.
inline constexpr size_t kMaxBase58DecodeSize = 4096;

// Returns the multibase prefix character of `base` ('b', 'z', 'M' or 'm').
char MultibasePrefix(Multibase base);

// Returns the prefix character followed by `bytes` encoded in `base`. Never fails. Base58 is
// quadratic in the input length: use it for short values (CIDs, keys) only.
std::string MultibaseEncode(Multibase base, absl::string_view bytes);

// Decodes multibase `text`, choosing the base from its first character. Returns
// INVALID_ARGUMENT when `text` is empty, the prefix is not one of the supported bases, or the
// rest is not valid in that base (see the raw decoders below). Character positions in error
// messages count from the start of `text`, prefix included.
absl::StatusOr<std::string> MultibaseDecode(absl::string_view text);

// Raw base32 (lower-case RFC 4648 alphabet "abcdefghijklmnopqrstuvwxyz234567", no padding, no
// prefix).
std::string Base32Encode(absl::string_view bytes);
// Returns INVALID_ARGUMENT on a character outside the alphabet (upper case and '=' included), a
// length that cannot encode whole bytes, or non-zero unused bits in the last character.
absl::StatusOr<std::string> Base32Decode(absl::string_view text);

// Raw base58btc (alphabet "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", no
// prefix). Each leading zero byte is written as a leading '1'. Quadratic in the input length.
std::string Base58BtcEncode(absl::string_view bytes);
// Returns INVALID_ARGUMENT on a character outside the alphabet or when `text` is longer than
// kMaxBase58DecodeSize. The empty text decodes to the empty byte string.
absl::StatusOr<std::string> Base58BtcDecode(absl::string_view text);

// Whether raw base64 text carries '=' padding to a multiple of 4 characters.
enum class Base64Padding {
  kNone,      // No '=' characters; '=' is rejected when decoding.
  kRequired,  // Exactly the RFC 4648 padding; missing, extra or misplaced '=' is rejected.
};

// Raw base64 with the standard alphabet ("A-Za-z0-9+/"), no prefix.
std::string Base64Encode(absl::string_view bytes, Base64Padding padding);
// Returns INVALID_ARGUMENT on a character outside the alphabet, bad padding for `padding`, a
// length that cannot encode whole bytes, or non-zero unused bits in the last character.
absl::StatusOr<std::string> Base64Decode(absl::string_view text, Base64Padding padding);

}  // namespace kiln
