// The storage-key layout of the metadata service's records, shared by LedgerStore (which writes
// them) and the backends that map record kinds to tables (PostgreSQL). Pure functions.
//
// Every key is one record-type byte, the uvarint-length-prefixed tenant and ledger, and a suffix
// whose meaning depends on the type, so all of a ledger's records of one kind are contiguous and
// hash to the same shard under (tenant, ledger) sharding.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ledger_ref.h"

namespace kiln::metadata {

// Record kinds (the first key byte), in key order.
enum class RecordType : char {
  kEntry = 'E',       // suffix: entry CID; value: StoredEntry
  kLog = 'G',         // suffix: 8-byte big-endian sequence number; value: LogRecord (hashed bytes)
  kHeader = 'H',      // suffix: empty; value: LedgerHeader
  kKey = 'K',         // suffix: SHA-256 of the key; value: StoredKey (sealed under the KEK)
  kReferenced = 'R',  // suffix: CID named as a parent; value: empty
};

// Length of a kKey suffix (a SHA-256 fingerprint).
inline constexpr size_t kKeyFingerprintBytes = 32;

// The common prefix of every record of `type` for one ledger.
std::string LedgerPrefix(RecordType type, const LedgerRef& ledger);
// The prefix of every ledger header of `tenant`.
std::string TenantHeaderPrefix(absl::string_view tenant);
// A log record's key: `prefix` (a kLog LedgerPrefix) and the big-endian `seq`.
std::string SeqKey(const std::string& prefix, uint64_t seq);
// Scans of a prefix end at kiln::PrefixUpperBound (common/ledger_ref.h).

// A key taken apart.
struct DecodedKey {
  RecordType type;
  std::string tenant;
  std::string ledger;
  std::string suffix;
};

// Splits a record key. INVALID_ARGUMENT when it does not follow the layout above.
absl::StatusOr<DecodedKey> DecodeRecordKey(absl::string_view key);

// The sequence number of a kLog suffix; INVALID_ARGUMENT unless it is 8 bytes.
absl::StatusOr<uint64_t> DecodeSeqSuffix(absl::string_view suffix);

}  // namespace kiln::metadata
