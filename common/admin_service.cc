#include "common/admin_service.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace kiln {

absl::Status ValidateCheckpointName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') {
    return absl::InvalidArgumentError(
        "checkpoint name must be 1-128 characters of [A-Za-z0-9._-] and not start with '.'");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint name \"", name, "\" has a character outside [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

AdminServiceImpl::AdminServiceImpl(std::string checkpoint_dir, CheckpointFn checkpoint,
                                   BoundedExecutor& executor, RepairBlobsFn repair_blobs)
    : checkpoint_dir_(std::move(checkpoint_dir)),
      checkpoint_(std::move(checkpoint)),
      executor_(executor),
      repair_blobs_(std::move(repair_blobs)) {}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateCheckpoint(
    grpc::CallbackServerContext* context, const admin::v1::CreateCheckpointRequest* request,
    admin::v1::CreateCheckpointResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (checkpoint_dir_.empty()) {
    reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
        "checkpoints are disabled: start the service with --checkpoint_dir")));
    return reactor;
  }
  if (absl::Status s = ValidateCheckpointName(request->name()); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  std::string dir = (std::filesystem::path(checkpoint_dir_) / request->name()).string();
  absl::Status queued = executor_.TrySubmit([this, reactor, response, dir]() {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
      reactor->Finish(
          ToGrpcStatus(absl::AlreadyExistsError(absl::StrCat("checkpoint ", dir, " exists"))));
      return;
    }
    std::filesystem::create_directories(checkpoint_dir_, ec);
    if (ec) {
      reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
          absl::StrCat("cannot create --checkpoint_dir ", checkpoint_dir_, ": ", ec.message()))));
      return;
    }
    absl::Status s = checkpoint_(dir);
    if (s.ok()) {
      response->set_path(std::filesystem::absolute(dir).string());
      LOG(INFO) << "checkpoint written to " << response->path();
    } else {
      LOG(WARNING) << "checkpoint " << dir << " failed: " << s;
    }
    reactor->Finish(ToGrpcStatus(s));
  });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RepairBlobs(
    grpc::CallbackServerContext* context, const admin::v1::RepairBlobsRequest* request,
    admin::v1::RepairBlobsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (repair_blobs_ == nullptr) {
    reactor->Finish(ToGrpcStatus(
        absl::FailedPreconditionError("this service keeps no blobs; ask a kiln-blockstore")));
    return reactor;
  }
  absl::Status queued = executor_.TrySubmit([this, reactor, request, response]() {
    absl::StatusOr<admin::v1::RepairBlobsResponse> result = repair_blobs_(*request);
    if (result.ok()) {
      *response = *std::move(result);
      LOG(INFO) << "blob repair: " << response->copied_to_first() << " copied to the first store, "
                << response->copied_to_second() << " to the second, " << response->failed()
                << " failed";
    }
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

}  // namespace kiln
