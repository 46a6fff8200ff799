// kiln.admin.v1.AdminService for storage services: RocksDB checkpoints on request, and on the
// block-store the repair of mirrored blobs. Both block (a memtable flush and file links; listing
// and copying blobs), so they run on the service's I/O executor, never on a gRPC thread.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/executor.h"
#include "kiln/admin/v1/admin.grpc.pb.h"

namespace kiln {

class AdminServiceImpl final : public admin::v1::AdminService::CallbackService {
 public:
  // Writes a checkpoint into a directory that must not exist yet.
  using CheckpointFn = std::function<absl::Status(const std::string& dir)>;

  // Repairs one ledger's blobs (RepairBlobs); runs on the executor. Returns the RPC's errors.
  using RepairBlobsFn = std::function<absl::StatusOr<admin::v1::RepairBlobsResponse>(
      const admin::v1::RepairBlobsRequest& request)>;

  // `checkpoint_dir` empty disables checkpoints. `repair_blobs` null: RepairBlobs is
  // FAILED_PRECONDITION (a service without blobs). `executor` must outlive this.
  AdminServiceImpl(std::string checkpoint_dir, CheckpointFn checkpoint, BoundedExecutor& executor,
                   RepairBlobsFn repair_blobs = nullptr);

  grpc::ServerUnaryReactor* CreateCheckpoint(
      grpc::CallbackServerContext* context, const admin::v1::CreateCheckpointRequest* request,
      admin::v1::CreateCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* RepairBlobs(grpc::CallbackServerContext* context,
                                        const admin::v1::RepairBlobsRequest* request,
                                        admin::v1::RepairBlobsResponse* response) override;

 private:
  const std::string checkpoint_dir_;
  const CheckpointFn checkpoint_;
  BoundedExecutor& executor_;
  const RepairBlobsFn repair_blobs_;
};

// INVALID_ARGUMENT unless `name` is 1-128 of [A-Za-z0-9._-] and does not start with '.'.
absl::Status ValidateCheckpointName(const std::string& name);

}  // namespace kiln
