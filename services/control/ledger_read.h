// Reads a ledger that must exist from its metadata shard; shared by LedgerAdmin (GetLedger) and
// LedgerExporter (Collect).
//
// Threading: thread-safe; makes one blocking gRPC call with a deadline: call it from the
// executor, never from a reaction.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/ledger_ref.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::control {

// What GetExistingLedger reads besides the version and heads.
enum class LedgerReadScope {
  kState,        // version and heads only
  kWithEntries,  // also the head entries and every key (GetLedgerRequest.include_entries)
};

// The state of `ledger` from its metadata shard `stub`. NOT_FOUND ("ledger t/l does not exist")
// when the shard has no record of it; peer errors pass through (UNAVAILABLE when it did not
// answer within `deadline`).
absl::StatusOr<metadata::v1::LedgerState> GetExistingLedger(
    metadata::v1::MetadataService::StubInterface& stub, const LedgerRef& ledger,
    LedgerReadScope scope, absl::Duration deadline);

}  // namespace kiln::control
