// `kiln-admin bundle verify FILE`: checks a ledger bundle offline (services/control/bundle.h):
// the CAR framing, every block's CID, the root's description, the log's hash chain and, given the
// key file the bundle was exported with, its sealed keys. Single-threaded; reads the whole file.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "common/aead.h"

namespace kiln::admin_cli {

struct BundleVerifyConfig {
  std::string path;      // the bundle file
  std::string key_file;  // the export's key file (64 hex characters or base64 of 32 bytes); may
                         // be empty, then the sealed keys are checked by CID only
  bool json = false;
};

// Prints what the bundle holds (or, with json, {"intact": ..., ...}) to `out`. Returns 0 only for
// an intact bundle; 1 when the bundle is damaged or tampered (the message on `err` names the bad
// part); 2 when the file or the key file cannot be read.
int RunBundleVerify(const BundleVerifyConfig& config, std::ostream& out, std::ostream& err);

// Reads a whole file. NOT_FOUND when it does not exist, UNAVAILABLE for other read errors.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// Reads the key file of an export or import: the 32-byte key. INVALID_ARGUMENT (with the path)
// when it is not 64 hex characters or base64 of 32 bytes, or as ReadWholeFile.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

// Reads the key file of an export or import and makes a sealer from it; INVALID_ARGUMENT (with
// the path) when it is not 64 hex characters or base64 of 32 bytes, or as ReadWholeFile.
absl::StatusOr<KeySealer> SealerFromKeyFile(const std::string& path);

}  // namespace kiln::admin_cli
