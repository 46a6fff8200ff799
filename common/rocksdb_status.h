// Maps rocksdb::Status to absl::Status with the most specific canonical code. Messages carry the
// operation and RocksDB's text but no filesystem paths beyond what RocksDB itself reports, so
// callers that answer clients should replace INTERNAL/UNAVAILABLE messages with their own.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace kiln {

// NotFound -> NOT_FOUND, Corruption -> DATA_LOSS, Busy/TimedOut/TryAgain/IOError(no space) ->
// UNAVAILABLE or RESOURCE_EXHAUSTED, InvalidArgument -> INVALID_ARGUMENT, others -> INTERNAL.
absl::Status FromRocksDbStatus(const rocksdb::Status& status, absl::string_view operation);

}  // namespace kiln
