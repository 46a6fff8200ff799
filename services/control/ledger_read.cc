#include "services/control/ledger_read.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace kiln::control {

namespace mv1 = ::kiln::metadata::v1;

absl::StatusOr<mv1::LedgerState> GetExistingLedger(mv1::MetadataService::StubInterface& stub,
                                                   const LedgerRef& ledger, LedgerReadScope scope,
                                                   absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  mv1::GetLedgerRequest request;
  request.set_tenant(ledger.tenant());
  request.set_ledger(ledger.ledger());
  request.set_include_entries(scope == LedgerReadScope::kWithEntries);
  mv1::GetLedgerResponse response;
  KILN_RETURN_IF_ERROR(FromGrpcStatus(stub.GetLedger(&context, request, &response)));
  if (!response.exists()) {
    return absl::NotFoundError(
        absl::StrCat("ledger ", ledger.tenant(), "/", ledger.ledger(), " does not exist"));
  }
  return std::move(*response.mutable_state());
}

}  // namespace kiln::control
