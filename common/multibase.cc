#include "common/multibase.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kiln {
namespace {

constexpr absl::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr absl::string_view kBase58Alphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr absl::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr uint8_t kInvalid = 0xff;

// Maps each byte to its digit value in `alphabet`, or kInvalid.
std::array<uint8_t, 256> ReverseTable(absl::string_view alphabet) {
  std::array<uint8_t, 256> table;
  table.fill(kInvalid);
  for (size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

const std::array<uint8_t, 256>& Base32Table() {
  static const std::array<uint8_t, 256> table = ReverseTable(kBase32Alphabet);
  return table;
}
const std::array<uint8_t, 256>& Base58Table() {
  static const std::array<uint8_t, 256> table = ReverseTable(kBase58Alphabet);
  return table;
}
const std::array<uint8_t, 256>& Base64Table() {
  static const std::array<uint8_t, 256> table = ReverseTable(kBase64Alphabet);
  return table;
}

// "'x'" for printable ASCII, "byte 0xNN" otherwise, so messages stay ASCII and short.
std::string DescribeChar(char c) {
  const uint8_t b = static_cast<uint8_t>(c);
  if (b >= 0x21 && b <= 0x7e) return absl::StrCat("'", absl::string_view(&c, 1), "'");
  return absl::StrCat("byte 0x", absl::Hex(b, absl::kZeroPad2));
}

absl::Status BadCharError(absl::string_view base_name, char c, size_t position) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", base_name, ": character ",
                                                 DescribeChar(c), " at position ", position,
                                                 " is not in the alphabet"));
}

// Decodes `text` in an RFC 4648 base of `bits_per_char` bits per character (5 or 6) with no
// padding. `offset` is added to positions in messages; `base_name` names the base in them.
absl::StatusOr<std::string> DecodeRfc4648(absl::string_view text,
                                          const std::array<uint8_t, 256>& table, int bits_per_char,
                                          absl::string_view base_name, size_t offset) {
  std::string out;
  out.reserve(text.size() * bits_per_char / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t value = table[static_cast<uint8_t>(text[i])];
    if (value == kInvalid) {
      if (text[i] == '=') {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid ", base_name, ": unexpected padding character '=' at position ", offset + i));
      }
      return BadCharError(base_name, text[i], offset + i);
    }
    buffer = (buffer << bits_per_char) | value;
    bits += bits_per_char;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (uint32_t{1} << bits) - 1;
    }
  }
  // A last character that contributes no bits to a whole byte means a truncated or padded-out
  // length; unused bits must be zero so that each byte string has one encoding.
  if (bits >= bits_per_char) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", base_name, ": length ", text.size(),
                                                   " cannot encode whole bytes"));
  }
  if (buffer != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", base_name, ": unused bits of the last character are not zero"));
  }
  return out;
}

std::string EncodeRfc4648(absl::string_view bytes, absl::string_view alphabet, int bits_per_char) {
  std::string out;
  out.reserve((bytes.size() * 8 + bits_per_char - 1) / bits_per_char + 2);
  const uint32_t mask = (uint32_t{1} << bits_per_char) - 1;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= bits_per_char) {
      bits -= bits_per_char;
      out.push_back(alphabet[(buffer >> bits) & mask]);
    }
    buffer &= (uint32_t{1} << bits) - 1;
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (bits_per_char - bits)) & mask]);
  return out;
}

absl::StatusOr<std::string> DecodeBase64Impl(absl::string_view text, Base64Padding padding,
                                             size_t offset) {
  if (padding == Base64Padding::kNone) {
    return DecodeRfc4648(text, Base64Table(), 6, "base64", offset);
  }
  constexpr absl::string_view kName = "base64pad";
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", kName, ": length ", text.size(), " is not a multiple of 4"));
  }
  size_t data_size = text.size();
  while (data_size > 0 && text[data_size - 1] == '=') --data_size;
  if (text.size() - data_size > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", kName, ": ", text.size() - data_size,
                     " padding characters at the end; at most 2 are allowed"));
  }
  // With the total a multiple of 4 and at most 2 '=', the padding count always matches the
  // data length; a data length of 4n+1 is rejected by DecodeRfc4648.
  return DecodeRfc4648(text.substr(0, data_size), Base64Table(), 6, kName, offset);
}

// 58^5 is the largest power of 58 below 2^32; base58 conversion works in limbs of 5 digits.
constexpr uint32_t kBase58Pow5 = 58u * 58u * 58u * 58u * 58u;
constexpr int kBase58DigitsPerLimb = 5;

absl::StatusOr<std::string> DecodeBase58Impl(absl::string_view text, size_t offset) {
  constexpr absl::string_view kName = "base58btc";
  if (text.size() > kMaxBase58DecodeSize) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", kName, ": text of ", text.size(),
                                                   " characters exceeds the limit of ",
                                                   kMaxBase58DecodeSize));
  }
  const std::array<uint8_t, 256>& table = Base58Table();
  size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;

  // The value of the remaining digits as little-endian 32-bit limbs, built by multiplying in up to
  // 5 digits at a time.
  std::vector<uint32_t> limbs;
  limbs.reserve((text.size() - zeros) * 6 / 32 + 1);
  size_t i = zeros;
  while (i < text.size()) {
    uint64_t chunk = 0;
    uint64_t multiplier = 1;
    for (int d = 0; d < kBase58DigitsPerLimb && i < text.size(); ++d, ++i) {
      const uint8_t value = table[static_cast<uint8_t>(text[i])];
      if (value == kInvalid) return BadCharError(kName, text[i], offset + i);
      chunk = chunk * 58 + value;
      multiplier *= 58;
    }
    uint64_t carry = chunk;
    for (uint32_t& limb : limbs) {
      const uint64_t t = static_cast<uint64_t>(limb) * multiplier + carry;
      limb = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    while (carry != 0) {
      limbs.push_back(static_cast<uint32_t>(carry));
      carry >>= 32;
    }
  }

  std::string out(zeros, '\0');
  out.reserve(zeros + limbs.size() * 4);
  bool leading = true;
  for (size_t l = limbs.size(); l-- > 0;) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      const uint8_t byte = static_cast<uint8_t>(limbs[l] >> shift);
      if (leading && byte == 0) continue;
      leading = false;
      out.push_back(static_cast<char>(byte));
    }
  }
  return out;
}

}  // namespace

char MultibasePrefix(Multibase base) {
  switch (base) {
    case Multibase::kBase32:
      return 'b';
    case Multibase::kBase58Btc:
      return 'z';
    case Multibase::kBase64Pad:
      return 'M';
    case Multibase::kBase64:
      return 'm';
  }
  return '?';  // Unreachable for valid enum values.
}

std::string MultibaseEncode(Multibase base, absl::string_view bytes) {
  std::string body;
  switch (base) {
    case Multibase::kBase32:
      body = Base32Encode(bytes);
      break;
    case Multibase::kBase58Btc:
      body = Base58BtcEncode(bytes);
      break;
    case Multibase::kBase64Pad:
      body = Base64Encode(bytes, Base64Padding::kRequired);
      break;
    case Multibase::kBase64:
      body = Base64Encode(bytes, Base64Padding::kNone);
      break;
  }
  std::string out(1, MultibasePrefix(base));
  out += body;
  return out;
}

absl::StatusOr<std::string> MultibaseDecode(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid multibase: text is empty");
  const absl::string_view body = text.substr(1);
  switch (text[0]) {
    case 'b':
      return DecodeRfc4648(body, Base32Table(), 5, "base32", 1);
    case 'z':
      return DecodeBase58Impl(body, 1);
    case 'M':
      return DecodeBase64Impl(body, Base64Padding::kRequired, 1);
    case 'm':
      return DecodeBase64Impl(body, Base64Padding::kNone, 1);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid multibase: unsupported prefix ", DescribeChar(text[0]),
                       " (supported: 'b' base32, 'z' base58btc, 'M' base64pad, 'm' base64)"));
  }
}

std::string Base32Encode(absl::string_view bytes) {
  return EncodeRfc4648(bytes, kBase32Alphabet, 5);
}

absl::StatusOr<std::string> Base32Decode(absl::string_view text) {
  return DecodeRfc4648(text, Base32Table(), 5, "base32", 0);
}

std::string Base58BtcEncode(absl::string_view bytes) {
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == '\0') ++zeros;

  // The value of the remaining bytes as little-endian limbs of base 58^5, built by multiplying in
  // up to 4 bytes at a time. A limb is below 2^30, so limb * 2^32 + carry fits in 64 bits.
  std::vector<uint32_t> limbs;
  limbs.reserve((bytes.size() - zeros) * 138 / 100 / kBase58DigitsPerLimb + 1);
  size_t i = zeros;
  while (i < bytes.size()) {
    uint64_t chunk = 0;
    int shift = 0;
    for (int b = 0; b < 4 && i < bytes.size(); ++b, ++i) {
      chunk = (chunk << 8) | static_cast<uint8_t>(bytes[i]);
      shift += 8;
    }
    uint64_t carry = chunk;
    for (uint32_t& limb : limbs) {
      const uint64_t t = (static_cast<uint64_t>(limb) << shift) + carry;
      limb = static_cast<uint32_t>(t % kBase58Pow5);
      carry = t / kBase58Pow5;
    }
    while (carry != 0) {
      limbs.push_back(static_cast<uint32_t>(carry % kBase58Pow5));
      carry /= kBase58Pow5;
    }
  }

  std::string out(zeros, '1');
  out.reserve(zeros + limbs.size() * kBase58DigitsPerLimb);
  for (size_t l = limbs.size(); l-- > 0;) {
    char digits[kBase58DigitsPerLimb];
    uint32_t limb = limbs[l];
    for (int d = kBase58DigitsPerLimb - 1; d >= 0; --d) {
      digits[d] = kBase58Alphabet[limb % 58];
      limb /= 58;
    }
    int start = 0;
    // The most significant limb is written without leading zero digits ('1'), which would
    // otherwise read back as zero bytes.
    if (l + 1 == limbs.size()) {
      while (start < kBase58DigitsPerLimb - 1 && digits[start] == '1') ++start;
    }
    out.append(digits + start, kBase58DigitsPerLimb - start);
  }
  return out;
}

absl::StatusOr<std::string> Base58BtcDecode(absl::string_view text) {
  return DecodeBase58Impl(text, 0);
}

std::string Base64Encode(absl::string_view bytes, Base64Padding padding) {
  std::string out = EncodeRfc4648(bytes, kBase64Alphabet, 6);
  if (padding == Base64Padding::kRequired) {
    while (out.size() % 4 != 0) out.push_back('=');
  }
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text, Base64Padding padding) {
  return DecodeBase64Impl(text, padding, 0);
}

}  // namespace kiln
