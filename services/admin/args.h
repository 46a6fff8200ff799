// Command-line arguments of kiln-admin: positional words and options, parsed by hand so that each
// subcommand can have its own options, its own --help and errors a person can act on (absl flags
// are global to a binary). Options are "--name=value", "--name value" or, for switches, "--name";
// "-" and "_" in names are the same ("--data-dir" is "--data_dir").
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kiln::admin {

struct Args {
  std::vector<std::string> words;              // positional, in order
  std::map<std::string, std::string> options;  // name (with '_') -> value
  std::set<std::string> switches;              // switches given
  bool help = false;                           // --help or -h anywhere

  // The option's value, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Has(const std::string& name) const { return options.count(name) > 0; }
  bool Switch(const std::string& name) const { return switches.count(name) > 0; }
};

// Parses `argv[1..]`. `switch_names` take no value. INVALID_ARGUMENT for an option not in
// `option_names` or `switch_names`, or one missing its value.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               const std::set<std::string>& option_names,
                               const std::set<std::string>& switch_names);

// "90s", "15m", "1h", "7d" (also combinations absl::ParseDuration accepts, e.g. "1h30m").
// INVALID_ARGUMENT otherwise, or when not positive.
absl::StatusOr<absl::Duration> ParseValidity(const std::string& text);

}  // namespace kiln::admin
