#include "services/admin/blobs_repair.h"

#include <chrono>

#include "common/shards.h"
#include "kiln/admin/v1/admin.grpc.pb.h"

namespace kiln::admin_cli {

int RunBlobsRepair(const BlobsRepairConfig& config, std::ostream& out, std::ostream& err) {
  if (config.target.empty() || config.tenant.empty() || config.ledger.empty()) {
    err << "kiln-admin blobs repair: --target, --tenant and --ledger are required" << std::endl;
    return 2;
  }
  auto stub = admin::v1::AdminService::NewStub(NewPeerChannel(config.target));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(config.timeout));
  admin::v1::RepairBlobsRequest request;
  request.set_tenant(config.tenant);
  request.set_ledger(config.ledger);
  request.set_store(config.store);
  admin::v1::RepairBlobsResponse response;
  grpc::Status s = stub->RepairBlobs(&context, request, &response);
  if (!s.ok()) {
    err << "kiln-admin: blobs repair failed: " << s.error_message() << " (code "
        << static_cast<int>(s.error_code()) << ")" << std::endl;
    return 1;
  }
  out << "copied_to_first=" << response.copied_to_first()
      << " copied_to_second=" << response.copied_to_second() << " failed=" << response.failed()
      << std::endl;
  if (response.failed() > 0) {
    err << "kiln-admin: " << response.failed()
        << " blob(s) could not be copied; see the block-store's log" << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace kiln::admin_cli
