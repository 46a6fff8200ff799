// Unsigned LEB128 varints as used by multiformats (CIDs, multihashes, multicodecs, CAR sections).
// Follows the multiformats unsigned-varint spec: at most 9 bytes (so values below 2^63) and minimal
// encoding only, so every value has exactly one byte form.
// Header-only; stateless functions, safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"

namespace kiln {

// The largest value a multiformats varint can carry (9 bytes of 7 bits).
inline constexpr uint64_t kMaxUvarint = (uint64_t{1} << 63) - 1;
// The longest multiformats varint in bytes.
inline constexpr size_t kMaxUvarintBytes = 9;

// Appends the minimal varint encoding of `value` to `out`.
// Precondition: value <= kMaxUvarint (callers validate values that come from input first).
inline void AppendUvarint(std::string* out, uint64_t value) {
  DCHECK_LE(value, kMaxUvarint);
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Reads one varint from the front of `*in`. On success advances `*in` past it and returns the
// value. On failure leaves `*in` unchanged and returns INVALID_ARGUMENT when the varint is
// truncated (input ends while the continuation bit is set, including empty input), longer than
// kMaxUvarintBytes bytes, or not minimally encoded (a multi-byte varint whose last byte is 0x00).
inline absl::StatusOr<uint64_t> ReadUvarint(absl::string_view* in) {
  uint64_t value = 0;
  for (size_t i = 0; i < kMaxUvarintBytes; ++i) {
    if (i >= in->size()) {
      return absl::InvalidArgumentError(in->empty() ? "varint is truncated: input is empty"
                                                    : "varint is truncated");
    }
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) {
        return absl::InvalidArgumentError("varint is not minimally encoded");
      }
      in->remove_prefix(i + 1);
      return value;
    }
  }
  return absl::InvalidArgumentError("varint is longer than 9 bytes");
}

}  // namespace kiln
