#include "services/control/blob_listing.h"

#include <chrono>

#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace kiln::control {

namespace bv1 = ::kiln::blockstore::v1;

absl::Status ForEachListedBlob(bv1::BlockStoreService::StubInterface& stub, const LedgerRef& ledger,
                               bv1::Store store, absl::Duration deadline,
                               absl::FunctionRef<absl::Status(const bv1::BlobStat&)> visit) {
  std::string token;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
    bv1::ListRequest request;
    request.set_tenant(ledger.tenant());
    request.set_ledger(ledger.ledger());
    request.set_store(store);
    request.set_page_size(1000);
    request.set_page_token(token);
    bv1::ListResponse page;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(stub.List(&context, request, &page)));
    for (const bv1::BlobStat& blob : page.blobs()) KILN_RETURN_IF_ERROR(visit(blob));
    token = page.next_page_token();
  } while (!token.empty());
  return absl::OkStatus();
}

}  // namespace kiln::control
