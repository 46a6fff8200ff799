#include "services/blockstore/blob_repair.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kiln::blockstore {

absl::StatusOr<admin::v1::RepairBlobsResponse> RepairLedgerBlobs(
    BlockBackend& backend, const admin::v1::RepairBlobsRequest& request) {
  KILN_ASSIGN_OR_RETURN(LedgerRef ledger, LedgerRef::Parse(request.tenant(), request.ledger()));
  std::vector<Store> stores(kAllStoreKinds.begin(), kAllStoreKinds.end());
  if (std::optional<Store> one = StoreKindFromName(request.store()); one.has_value()) {
    stores = {*one};
  } else if (!request.store().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "store \"", request.store(), "\" must be car, file, meta, wal or empty (all four)"));
  }
  admin::v1::RepairBlobsResponse response;
  for (Store store : stores) {
    KILN_ASSIGN_OR_RETURN(RepairReport report, backend.Repair(ledger, store));
    response.set_copied_to_first(response.copied_to_first() + report.copied_to_first);
    response.set_copied_to_second(response.copied_to_second() + report.copied_to_second);
    response.set_failed(response.failed() + report.failed);
  }
  return response;
}

}  // namespace kiln::blockstore
