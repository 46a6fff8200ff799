// kiln.admin.v1.AdminService for storage services: RocksDB checkpoints on request. The checkpoint
// itself blocks (a memtable flush and file links), so it runs on the service's I/O executor, never
// on a gRPC thread.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/executor.h"
#include "kiln/admin/v1/admin.grpc.pb.h"

namespace kiln {

class AdminServiceImpl final : public admin::v1::AdminService::CallbackService {
 public:
  // Writes a checkpoint into a directory that must not exist yet.
  using CheckpointFn = std::function<absl::Status(const std::string& dir)>;

  // `checkpoint_dir` empty disables checkpoints. `checkpoint` and `executor` must outlive this.
  AdminServiceImpl(std::string checkpoint_dir, CheckpointFn checkpoint, BoundedExecutor& executor);

  grpc::ServerUnaryReactor* CreateCheckpoint(
      grpc::CallbackServerContext* context, const admin::v1::CreateCheckpointRequest* request,
      admin::v1::CreateCheckpointResponse* response) override;

 private:
  const std::string checkpoint_dir_;
  const CheckpointFn checkpoint_;
  BoundedExecutor& executor_;
};

// INVALID_ARGUMENT unless `name` is 1-128 of [A-Za-z0-9._-] and does not start with '.'.
absl::Status ValidateCheckpointName(const std::string& name);

}  // namespace kiln
