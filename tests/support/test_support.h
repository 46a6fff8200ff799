// Helpers for tests: temporary directories, service binaries run as child processes, and gRPC
// channels to loopback ports. Not thread-safe; use from the test thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace kiln::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Path of a binary built in this build tree (KILN_BIN_DIR set by ctest), e.g.
// BinaryPath("services/blockstore/kiln-blockstore").
std::string BinaryPath(const std::string& relative);

// Runs `command` through /bin/sh; returns its exit status (-1 when it did not exit normally) and
// sets `output` to its stdout and stderr together.
int RunCommand(const std::string& command, std::string* output);

// For a child just forked to run a server or tool: clears the signal mask inherited from the test
// (servers manage their own signals), then execs argv[0] (looked up on PATH when it has no '/')
// with `argv`. Exits with status 127 when the exec fails; never returns.
[[noreturn]] void ExecChild(std::vector<std::string> argv);

// A service binary started with `--grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0
// --ready_file=...` plus `args`; Start waits until the ready file names its ports.
class ServiceProcess {
 public:
  ServiceProcess(std::string binary, std::vector<std::string> args);
  ~ServiceProcess();  // SIGKILLs the child if it still runs

  // Starts the child and waits (up to `timeout`) for it to report its ports. Returns
  // DEADLINE_EXCEEDED or INTERNAL (with the child's exit status) when it does not come up.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // Sends `signal` and waits for the child to exit; returns its wait status.
  int Stop(int signal);
  int grpc_port() const { return ports_.at("grpc_port"); }
  int metrics_port() const { return ports_.at("metrics_port"); }
  std::string grpc_target() const;
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  TempDir dir_;
  pid_t pid_ = -1;
  std::map<std::string, int> ports_;
};

// An insecure channel to `target` with proxies disabled and `max_message_bytes` receive limit.
std::shared_ptr<grpc::Channel> LoopbackChannel(const std::string& target,
                                               int max_message_bytes = 64 << 20);

// Fetches http://127.0.0.1:port/metrics; empty string on failure.
std::string ScrapeMetrics(int port);

// Value of the sample `name{labels}` (exact text before the value) in a /metrics body, or -1.
double MetricValue(const std::string& body, const std::string& sample);

}  // namespace kiln::testing
