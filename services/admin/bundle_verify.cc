#include "services/admin/bundle_verify.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "services/control/bundle.h"

namespace kiln::admin_cli {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return buf.str();
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> key = ParseKek(*text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<KeySealer> SealerFromKeyFile(const std::string& path) {
  absl::StatusOr<std::string> key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  return KeySealer::Create(*key);
}

int RunBundleVerify(const BundleVerifyConfig& config, std::ostream& out, std::ostream& err) {
  const std::string prefix = "kiln-admin bundle verify: ";
  std::optional<KeySealer> sealer;
  if (!config.key_file.empty()) {
    absl::StatusOr<KeySealer> s = SealerFromKeyFile(config.key_file);
    if (!s.ok()) {
      err << prefix << s.status().message() << std::endl;
      return 2;
    }
    sealer = *std::move(s);
  }
  absl::StatusOr<std::string> file = ReadWholeFile(config.path);
  if (!file.ok()) {
    err << prefix << file.status().message() << std::endl;
    return 2;
  }
  absl::StatusOr<control::LedgerBundle> bundle =
      control::ReadBundle(*file, sealer ? &*sealer : nullptr);
  if (!bundle.ok()) {
    if (config.json) {
      out << boost::json::serialize(boost::json::object{
                 {"intact", false}, {"error", std::string(bundle.status().message())}})
          << std::endl;
    }
    err << prefix << config.path << " is damaged: " << bundle.status().message() << " ("
        << absl::StatusCodeToString(bundle.status().code()) << ")" << std::endl;
    return 1;
  }
  const bool keys_opened = sealer.has_value();
  if (config.json) {
    out << boost::json::serialize(boost::json::object{{"intact", true},
                                                      {"tenant", bundle->tenant},
                                                      {"ledger", bundle->ledger},
                                                      {"version", bundle->version},
                                                      {"heads", bundle->heads.size()},
                                                      {"blobs", bundle->blobs.size()},
                                                      {"entries", bundle->entries.size()},
                                                      {"log_records", bundle->log_records.size()},
                                                      {"keys", bundle->key_count},
                                                      {"keys_opened", keys_opened}})
        << std::endl;
  } else {
    out << config.path << ": intact bundle of " << bundle->tenant << "/" << bundle->ledger
        << " at version " << bundle->version << ": " << bundle->blobs.size() << " blobs, "
        << bundle->entries.size() << " meta entries, " << bundle->log_records.size()
        << " log records (hash chain verified), " << bundle->key_count << " keys ("
        << (keys_opened ? "opened with the key file" : "sealed; give --key-file to open them")
        << ")" << std::endl;
  }
  return 0;
}

}  // namespace kiln::admin_cli
