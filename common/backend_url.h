// Backend URLs (`memory://`, `rocksdb:///var/lib/kiln/blocks?sync=false`) and a registry that maps
// a URL's scheme to a factory, as Fireproof picks its gateways. Parsing is pure; the registry is
// filled once at startup (in `main` or a service's setup) and read-only afterwards, so lookups need
// no lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace kiln {

// A parsed backend URL.
struct BackendUrl {
  std::string scheme;         // lower-case, e.g. "rocksdb"
  std::string host;           // e.g. "" for rocksdb:///path, "name" for memory://name
  std::string user;           // percent-decoded user of user@host, e.g. "kiln"; empty when absent
  std::string port;           // e.g. "5432" for postgres://host:5432/db; empty when absent
  bool has_password = false;  // the URL carries user:password@ (the password itself is dropped)
  std::string path;           // percent-decoded, e.g. "/var/lib/kiln/blocks"
  std::map<std::string, std::string> params;  // decoded query parameters

  // Returns the parameter or `fallback` when absent.
  std::string Param(absl::string_view name, absl::string_view fallback) const;
  // Parses a boolean parameter ("true"/"false"/"1"/"0"); INVALID_ARGUMENT on any other value.
  absl::StatusOr<bool> BoolParam(absl::string_view name, bool fallback) const;
  // Parses a non-negative integer parameter; INVALID_ARGUMENT when not a number.
  absl::StatusOr<uint64_t> UintParam(absl::string_view name, uint64_t fallback) const;
  // INVALID_ARGUMENT naming the first parameter not in `known` (catches typos such as ?snyc=).
  absl::Status CheckParams(const std::vector<std::string>& known) const;
};

// Parses `url`. Returns INVALID_ARGUMENT when it is not a URL with a scheme.
absl::StatusOr<BackendUrl> ParseBackendUrl(absl::string_view url);

// Maps URL schemes to factories producing `T`. Factories get the parsed URL.
template <typename T>
class BackendRegistry {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<T>>(const BackendUrl&)>;

  // Registers `factory` for `scheme`; a second registration of a scheme replaces the first.
  void Register(std::string scheme, Factory factory) {
    factories_[std::move(scheme)] = std::move(factory);
  }

  // Parses `url` and runs the factory for its scheme. Returns INVALID_ARGUMENT for a malformed
  // URL or an unknown scheme (the message lists the known ones), else whatever the factory returns.
  absl::StatusOr<std::unique_ptr<T>> Create(absl::string_view url) const {
    absl::StatusOr<BackendUrl> parsed = ParseBackendUrl(url);
    if (!parsed.ok()) return parsed.status();
    auto it = factories_.find(parsed->scheme);
    if (it == factories_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown backend scheme \"", parsed->scheme,
                                                     "://\"; known schemes: ", KnownSchemes()));
    }
    return it->second(*parsed);
  }

  // The registered schemes, sorted, as "a://, b://".
  std::string KnownSchemes() const {
    std::vector<std::string> names;
    for (const auto& [name, unused] : factories_) names.push_back(name + "://");
    std::sort(names.begin(), names.end());
    return absl::StrJoin(names, ", ");
  }

 private:
  absl::flat_hash_map<std::string, Factory> factories_;
};

}  // namespace kiln
