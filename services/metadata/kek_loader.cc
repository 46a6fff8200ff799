#include "services/metadata/kek_loader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/flag_file.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace kiln::metadata {
namespace {

// The current KEK from the file, the environment, or (explicitly allowed) the development key.
absl::StatusOr<std::string> LoadCurrentKek(const KekSources& sources) {
  std::string text;
  if (!sources.kek_file.empty()) {
    KILN_ASSIGN_OR_RETURN(text, ReadFlagFile(sources.kek_file, "--kek_file"));
  } else if (!sources.kek_env.empty() && sources.kek_env_value.has_value()) {
    text = *sources.kek_env_value;
  } else if (sources.insecure_dev_kek) {
    LOG(WARNING) << "INSECURE: sealing ledger keys under a fixed development key "
                    "(--insecure_dev_kek); do not use with real data";
    return DigestBytes(Sha256("kiln insecure development key-encryption key"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "no key-encryption key: set --kek_file=PATH or $", sources.kek_env,
        " (32 bytes as hex, e.g. from `openssl rand -hex 32`), or pass --insecure_dev_kek for "
        "development"));
  }
  return ParseKek(text);
}

}  // namespace

absl::StatusOr<KeySealer> LoadKeySealer(const KekSources& sources) {
  std::vector<std::string> previous_keks;
  for (const std::string& file : sources.previous_kek_files) {
    KILN_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(file, "--previous_kek_files entry"));
    absl::StatusOr<std::string> kek = ParseKek(text);
    if (!kek.ok()) {
      return absl::Status(kek.status().code(), absl::StrCat(file, ": ", kek.status().message()));
    }
    previous_keks.push_back(*std::move(kek));
  }
  KILN_ASSIGN_OR_RETURN(std::string kek, LoadCurrentKek(sources));
  return KeySealer::Create(kek, std::move(previous_keks));
}

}  // namespace kiln::metadata
