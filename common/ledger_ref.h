// LedgerRef names one ledger: a (tenant, ledger) pair of ids. It is the one place that knows how
// the pair is validated (common/ids.h), hashed, placed on a shard (common/shards.h) and encoded
// as the start of a storage key, so that map keys, routing and key layouts agree everywhere.
//
// Threading: a value type; const methods are safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

class LedgerRef {
 public:
  LedgerRef() = default;
  // Takes ids as they are, for callers that validated them already (or read them from storage).
  LedgerRef(std::string tenant, std::string ledger)
      : tenant_(std::move(tenant)), ledger_(std::move(ledger)) {}

  // Returns INVALID_ARGUMENT naming `tenant_field` or `ledger_field` (e.g. "ref.tenant") when an
  // id is outside the grammar of common/ids.h.
  static absl::StatusOr<LedgerRef> Parse(absl::string_view tenant, absl::string_view ledger,
                                         absl::string_view tenant_field = "tenant",
                                         absl::string_view ledger_field = "ledger");

  const std::string& tenant() const { return tenant_; }
  const std::string& ledger() const { return ledger_; }

  // The shard, in [0, shard_count), that holds this ledger (ShardFor). shard_count must be
  // positive.
  size_t ShardOf(size_t shard_count) const;

  // The uvarint-length-prefixed tenant, then the ledger. The encoding is prefix-free: the keys
  // of one ledger that start with it are contiguous, and no ledger's prefix starts another's.
  std::string KeyPrefix() const;
  void AppendKeyPrefix(std::string* out) const;

  friend bool operator==(const LedgerRef& a, const LedgerRef& b) {
    return a.tenant_ == b.tenant_ && a.ledger_ == b.ledger_;
  }
  friend bool operator!=(const LedgerRef& a, const LedgerRef& b) { return !(a == b); }
  friend bool operator<(const LedgerRef& a, const LedgerRef& b) {
    return a.tenant_ != b.tenant_ ? a.tenant_ < b.tenant_ : a.ledger_ < b.ledger_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const LedgerRef& ref) {
    return H::combine(std::move(h), ref.tenant_, ref.ledger_);
  }

 private:
  std::string tenant_;
  std::string ledger_;
};

// The smallest string greater than every string that starts with `prefix`: the exclusive upper
// bound of a prefix scan. Empty when there is none (`prefix` empty or all 0xff bytes).
std::string PrefixUpperBound(absl::string_view prefix);

}  // namespace kiln
