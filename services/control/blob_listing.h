// Walks every blob of one store of a ledger with block-store List, page by page; shared by
// deletion and export.
//
// Threading: thread-safe; makes blocking gRPC calls (a deadline each): call it from the executor,
// never from a reaction.
#pragma once

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/ledger_ref.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"

namespace kiln::control {

// Calls `visit` with each blob (key and size) of `store` of `ledger` in key order. Each page
// continues after the last key listed, so `visit` may delete the blob it is given. Returns the
// first error of List (peer errors pass through) or of `visit`, which stops the walk.
absl::Status ForEachListedBlob(
    blockstore::v1::BlockStoreService::StubInterface& stub, const LedgerRef& ledger,
    blockstore::v1::Store store, absl::Duration deadline,
    absl::FunctionRef<absl::Status(const blockstore::v1::BlobStat&)> visit);

}  // namespace kiln::control
