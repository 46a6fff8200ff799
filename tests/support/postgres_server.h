// A real PostgreSQL server for tests: a fresh copy of an initdb'd template (made once per machine
// under $TMPDIR and kept) in a new temporary directory, and pg_ctl start on
// a Unix socket in that directory (no TCP port at all), as the unprivileged user `nobody` when the
// test runs as root (PostgreSQL refuses root). A watchdog process stops the server and removes its
// directory when this object is destroyed or the test process dies in any way (it waits for the
// end of a pipe only the test holds). Not thread-safe; use from the test thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kiln::testing {

class PostgresServer {
 public:
  // initdb and start a server. Fails with UNAVAILABLE when PostgreSQL's binaries are missing and
  // INTERNAL when a step fails (the message names the step and its log file).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  // The process-wide server, started on first use and stopped at exit (one per test binary).
  // Aborts the test binary with a message when it cannot start.
  static PostgresServer& Shared();

  ~PostgresServer();

  // Creates a fresh, empty database and returns its name (kiln_test_<n>).
  absl::StatusOr<std::string> CreateDatabase();
  // A libpq/Kiln URL for `database` over the Unix socket, plus `params` ("k=v&...") if any.
  std::string Url(const std::string& database, const std::string& params = "") const;

  // pg_ctl stop -m fast|immediate (the directory stays); Restart starts it again.
  absl::Status Stop(const std::string& mode);
  absl::Status Restart();

  const std::string& socket_dir() const { return dir_; }

 private:
  PostgresServer() = default;
  absl::Status Run(const std::string& step, const std::vector<std::string>& argv);
  absl::Status PgCtlStart();
  // $TMPDIR/kiln-pg-template-<version>-<uid>: an initdb'd data directory kept between runs.
  std::string TemplateDir() const;
  // Copies the template (made on first use) to dir_/data: much cheaper than initdb per test.
  absl::Status CopyTemplate();

  std::string bin_;  // PostgreSQL's bin directory
  std::string dir_;  // temp dir: socket, data/, logs
  bool as_nobody_ = false;
  int watchdog_fd_ = -1;  // write end of the watchdog's pipe
  pid_t watchdog_ = -1;
  int databases_ = 0;
};

}  // namespace kiln::testing
