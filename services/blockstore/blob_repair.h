// The block-store's side of kiln.admin.v1.AdminService/RepairBlobs: validates the request and runs
// BlockBackend::Repair over the asked stores of one ledger. Blocks (lists and copies blobs): call
// it on the I/O executor. Thread-safe as the backend is.
#pragma once

#include "absl/status/statusor.h"
#include "kiln/admin/v1/admin.pb.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

// INVALID_ARGUMENT for a bad tenant, ledger or store name; FAILED_PRECONDITION when `backend`
// keeps no copies to repair (not a mirror); otherwise the first error of a store's repair. The
// counts add up over the stores.
absl::StatusOr<admin::v1::RepairBlobsResponse> RepairLedgerBlobs(
    BlockBackend& backend, const admin::v1::RepairBlobsRequest& request);

}  // namespace kiln::blockstore
