// Builds the KeySealer that seals ledgers' gossiped keys at rest from where the operator put the
// key-encryption keys: a file, an environment variable (resolved by main, which reads the
// environment), or the fixed development key; plus previous KEKs during a rotation.
//
// Threading: a plain function; call from main at startup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/aead.h"

namespace kiln::metadata {

struct KekSources {
  // File holding the current KEK (64 hex characters or base64); wins over the environment.
  std::string kek_file;
  // Name of the environment variable consulted when kek_file is empty (for messages), and its
  // value when it is set.
  std::string kek_env;
  std::optional<std::string> kek_env_value;
  // Files holding previous KEKs, whose sealed keys are still opened.
  std::vector<std::string> previous_kek_files;
  // Without any other source: seal under a fixed, publicly known key (development only).
  bool insecure_dev_kek = false;
};

// Reads every previous KEK, then the current one, and builds the sealer. Returns NOT_FOUND,
// PERMISSION_DENIED or UNAVAILABLE (as ReadFlagFile) when a named file cannot be read, and
// INVALID_ARGUMENT when no source gives a current KEK or a KEK does not parse.
absl::StatusOr<KeySealer> LoadKeySealer(const KekSources& sources);

}  // namespace kiln::metadata
