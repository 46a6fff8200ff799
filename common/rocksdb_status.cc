#include "common/rocksdb_status.h"

#include "absl/strings/str_cat.h"

namespace kiln {

absl::Status FromRocksDbStatus(const rocksdb::Status& status, absl::string_view operation) {
  if (status.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(operation, ": ", status.ToString());
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(msg);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(msg);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(msg);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kShutdownInProgress:
      return absl::UnavailableError(msg);
    case rocksdb::Status::kIOError:
      if (status.IsNoSpace()) return absl::ResourceExhaustedError(msg);
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace kiln
