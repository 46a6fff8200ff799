// The subcommands of kiln-admin: their names, arguments, help text and what they do.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "services/admin/args.h"

namespace kiln::admin {

struct Command {
  std::vector<std::string> words;       // e.g. {"ledgers", "list"}
  std::string name;                     // the words joined
  std::string synopsis;                 // "TENANT LEDGER [--json]"
  std::vector<std::string> positional;  // names of the positional arguments
  std::set<std::string> options;        // options with values, beside the connection ones
  std::set<std::string> switches;       // options without values, beside --json
  bool control = true;                  // talks to kiln-control (takes the connection options)
  std::string help;                     // what it does, its options
  // Runs it; returns the exit status (0 ok, 1 refused by the service, 2 bad usage).
  std::function<int(const Args&)> run;
};

// Every command, in the order `kiln-admin help` lists them.
const std::vector<Command>& Commands();

}  // namespace kiln::admin
