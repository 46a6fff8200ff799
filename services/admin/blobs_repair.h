// `kiln-admin blobs repair`: asks a kiln-blockstore running a mirror(FIRST, SECOND) backend to copy
// every blob of one ledger that one store lacks from the other (AdminService/RepairBlobs), and
// prints what it did. Single-threaded; blocks until the block-store answers or the timeout.
#pragma once

#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace kiln::admin_cli {

struct BlobsRepairConfig {
  std::string target;  // the block-store's gRPC address
  std::string tenant;
  std::string ledger;
  std::string store;  // car, file, meta, wal; empty for all four
  absl::Duration timeout = absl::Minutes(10);
};

// Prints "copied_to_first=N copied_to_second=N failed=N" to `out` and returns 0 when the repair
// ran with no failed copies, 1 when the block-store refused or some copies failed (the message on
// `err` says why), 2 for missing flags.
int RunBlobsRepair(const BlobsRepairConfig& config, std::ostream& out, std::ostream& err);

}  // namespace kiln::admin_cli
