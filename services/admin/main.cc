// kiln-admin: the operator's command line.
//   kiln-admin checkpoint --target=kiln-metadata-0.kiln-metadata:7102 --name=nightly
//   kiln-admin ledgers list TENANT --data-dir .kiln-data
//   kiln-admin tokens issue --tenant T --ledger L --right write --valid 1h --data-dir .kiln-data
// `kiln-admin help` lists every command; `--help` after a command explains it. Exit status 0 on
// success, 1 when the service refuses (the message says why), 2 for bad usage.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "services/admin/args.h"
#include "services/admin/commands.h"

namespace {

using kiln::admin::Args;
using kiln::admin::Command;

// Options every control command takes.
const std::set<std::string> kControlOptions = {"target",      "admin_token_file", "data_dir",
                                               "timeout",     "tls_ca_file",      "tls_cert_file",
                                               "tls_key_file"};

void PrintOverview(std::ostream& out) {
  out << "kiln-admin: operate a Kiln deployment.\n\nCommands:\n";
  for (const Command& c : kiln::admin::Commands()) {
    out << "  kiln-admin " << c.name << (c.synopsis.empty() ? "" : " ") << c.synopsis << "\n";
  }
  out << "\nControl commands reach kiln-control with --target HOST:PORT and --admin_token_file "
         "FILE,\nor --data-dir DIR for a local `tools/dev up --data-dir DIR`. --json prints JSON.\n"
         "`kiln-admin COMMAND --help` explains one command.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "help" || all[0] == "--help" || all[0] == "-h") {
    PrintOverview(all.empty() ? std::cerr : std::cout);
    return all.empty() ? 2 : 0;
  }
  // The longest command name that the leading words spell ("ledgers list", "checkpoint").
  const Command* command = nullptr;
  size_t used = 0;
  for (const Command& c : kiln::admin::Commands()) {
    size_t n = c.words.size();
    if (n <= all.size() && n > used && std::equal(c.words.begin(), c.words.end(), all.begin())) {
      command = &c;
      used = n;
    }
  }
  if (command == nullptr) {
    std::cerr << "kiln-admin: unknown command \"" << all[0]
              << (all.size() > 1 && all[1][0] != '-' ? " " + all[1] : "")
              << "\"; `kiln-admin help` lists the commands" << std::endl;
    return 2;
  }
  std::set<std::string> options = command->options;
  if (command->control) options.insert(kControlOptions.begin(), kControlOptions.end());
  std::set<std::string> switches = command->switches;
  switches.insert("json");
  absl::StatusOr<Args> args = kiln::admin::ParseArgs(
      std::vector<std::string>(all.begin() + used, all.end()), options, switches);
  if (!args.ok()) {
    std::cerr << "kiln-admin " << command->name << ": " << args.status().message() << std::endl;
    return 2;
  }
  if (args->help) {
    std::cout << "usage: kiln-admin " << command->name << " " << command->synopsis << "\n\n"
              << command->help;
    if (command->control) {
      std::cout << "\nConnection (one of):\n"
                   "  --data-dir DIR            a local `tools/dev up --data-dir DIR` deployment\n"
                   "  --target HOST:PORT        kiln-control's address, with\n"
                   "  --admin_token_file FILE   the admin credential\n"
                   "  --tls_ca_file FILE        TLS: the CA of kiln-control's certificate, and\n"
                   "  --tls_cert_file FILE      mutual TLS: a client certificate from the\n"
                   "  --tls_key_file FILE       operator's CA and its key (no token needed)\n"
                   "  --timeout 60s             how long to wait for the answer\n";
    }
    std::cout << "  --json                    print the result as JSON\n";
    return 0;
  }
  if (args->words.size() != command->positional.size()) {
    std::cerr << "kiln-admin " << command->name << ": expected " << command->positional.size()
              << " argument(s) (" << command->synopsis << "), got " << args->words.size()
              << "; see `kiln-admin " << command->name << " --help`" << std::endl;
    return 2;
  }
  return command->run(*args);
}
