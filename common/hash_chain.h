// Verifies a hash-chained append-only log: every record names the SHA-256 of the previous
// record's stored bytes, and the chain's owner keeps the SHA-256 of the last one. Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kiln {

// One record as stored: its sequence number and previous-hash field, parsed by the caller from
// `bytes` (the exact stored bytes that the next record's prev_sha256 covers).
struct ChainLink {
  uint64_t seq = 0;
  std::string prev_sha256;  // 32 bytes; empty for the first record of the whole log
  absl::string_view bytes;
};

// Checks that `links` is a contiguous run starting at links[0].seq, that each record's
// prev_sha256 is the SHA-256 of the record before it (and, when `first_prev_sha256` is non-empty,
// that the first one's equals it), and that the SHA-256 of the last record equals
// `expected_last_sha256` when that is non-empty. Returns DATA_LOSS naming the first bad record
// ("log record 7 ..."): the record whose bytes no longer hash to what its successor (or the
// ledger head) recorded, or whose sequence number is out of place.
absl::Status VerifyHashChain(absl::Span<const ChainLink> links, absl::string_view first_prev_sha256,
                             absl::string_view expected_last_sha256);

}  // namespace kiln
