// What every service binary's main.cc does around its own wiring: the start of the process
// (signals, malloc, usage text, command line, logging), the help texts of the flags every binary
// shares, a typed server configuration validated once, fatal exit on bad configuration, reading
// the files named by flags (keys, tokens, passwords) as StatusOr, and a run-until-signal step
// with one shutdown order (stop serving with the grace period, then the caller's steps such as
// the executor and backends, then metrics).
//
// Flags are still defined and read only in main.cc; this library sees typed values (it parses
// the command line into them, but never reads one).
//
// Threading: meant for the main thread only. RunUntilSignal blocks until SIGINT or SIGTERM, which
// StartServiceProcess (or BlockTerminationSignals, common/server.h) must have blocked before any
// thread was started.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/flag_file.h"
#include "common/metrics.h"
#include "common/server.h"

namespace kiln {

// Help texts of the flags several binaries define with the same meaning.
inline constexpr char kGrpcAddressHelp[] = "Address the gRPC server listens on.";
inline constexpr char kMetricsAddressHelp[] =
    "Address of the Prometheus /metrics endpoint; empty disables it.";
inline constexpr char kReadyFileHelp[] =
    "When set, the chosen ports are written here once the server is serving.";
inline constexpr char kShutdownGraceHelp[] =
    "How long in-flight RPCs may run after SIGTERM before they are cancelled.";
inline constexpr char kMaxQueuedRequestsHelp[] =
    "Requests waiting for an I/O thread before new ones get RESOURCE_EXHAUSTED.";
inline constexpr char kShardIndexHelp[] =
    "This process's shard: a number, or a name ending in -<number> such as the StatefulSet "
    "pod name kiln-metadata-2. Requests for ledgers placed on another shard are refused.";
inline constexpr char kShardCountHelp[] =
    "Number of shards in the deployment (the length of edge's and merge's shard list); 0: "
    "unsharded, serve every ledger.";
inline constexpr char kCheckpointDirHelp[] =
    "Directory for RocksDB checkpoints made through kiln.admin.v1.AdminService "
    "(kiln-admin checkpoint); on the database's filesystem they are hard links. Empty "
    "disables checkpoints.";

// Defines, in the main.cc that expands it (at namespace scope), the flags every gRPC service binary
// shares: --grpc_address, --metrics_address, --ready_file and --shutdown_grace, with the shared
// help texts and this binary's default addresses. main reads them with
// KILN_SERVICE_CONFIG_FROM_FLAGS(program) after absl::ParseCommandLine.
#define KILN_DEFINE_SERVICE_FLAGS(default_grpc_address, grpc_address_help,                       \
                                  default_metrics_address)                                       \
  ABSL_FLAG(std::string, grpc_address, default_grpc_address, grpc_address_help);                 \
  ABSL_FLAG(std::string, metrics_address, default_metrics_address, ::kiln::kMetricsAddressHelp); \
  ABSL_FLAG(std::string, ready_file, "", ::kiln::kReadyFileHelp);                                \
  ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10), ::kiln::kShutdownGraceHelp)

#define KILN_SERVICE_CONFIG_FROM_FLAGS(program)                                         \
  ::kiln::ServiceConfig::Grpc(                                                          \
      program, absl::GetFlag(FLAGS_grpc_address), absl::GetFlag(FLAGS_metrics_address), \
      absl::GetFlag(FLAGS_ready_file), absl::GetFlag(FLAGS_shutdown_grace))

// How a service binary starts (StartServiceProcess).
struct ProcessStartOptions {
  // The --help text: what the binary is, then an example command line.
  absl::string_view usage;
  // Calls TuneMalloc (common/server.h); for the binaries that move blobs and protocol messages.
  bool tune_malloc = true;
};

// What every service binary's main does first, in this order: blocks SIGINT and SIGTERM (before
// any thread exists), tunes malloc when asked, sets the usage text, parses the command line into
// the flags main.cc defines (main still reads them, with absl::GetFlag) and starts logging to
// stderr. Exits as absl::ParseCommandLine does on unknown flags and --help. Call it once, first
// thing in main (absl::SetProgramUsageMessage dies when called twice).
void StartServiceProcess(int argc, char** argv, const ProcessStartOptions& options);

// The settings every service binary has, filled from its flags in main.
struct ServiceConfig {
  // The binary's name, e.g. "kiln-blockstore": prefixes fatal messages and lifecycle log lines.
  std::string program;
  // gRPC listening options. kiln-edge (HTTP only) leaves them at their defaults.
  ServerOptions grpc;
  // Address of the /metrics endpoint ("host:port"); empty disables it.
  std::string metrics_address;
  // When non-empty, "name=port" lines and a last "ready" line are written here once serving.
  std::string ready_file;

  // The configuration of a gRPC service binary from its shared flags' values.
  static ServiceConfig Grpc(std::string program, std::string grpc_address,
                            std::string metrics_address, std::string ready_file,
                            absl::Duration shutdown_grace);

  // Returns INVALID_ARGUMENT naming the flag when a field cannot work: an empty program name or
  // gRPC address, a negative --shutdown_grace, a message size limit below one byte, or a
  // metrics address without a port.
  absl::Status Validate() const;
};

// One service process from configuration to exit: owns the process's Metrics (destroyed last,
// so /metrics answers until every other component is gone) and the gRPC server, and implements
// the startup-fatal policy (STYLE.md): Die prints "<program>: <message>" and exits with status 2.
class ServiceMain {
 public:
  // Dies when `config` is invalid (see ServiceConfig::Validate).
  explicit ServiceMain(ServiceConfig config);
  ~ServiceMain();
  ServiceMain(const ServiceMain&) = delete;
  ServiceMain& operator=(const ServiceMain&) = delete;

  const ServiceConfig& config() const { return config_; }
  // The gRPC server's options, for what is known only after startup checks (TLS credentials);
  // change them before StartGrpc.
  ServerOptions& grpc_options() { return config_.grpc; }
  Metrics& metrics() { return metrics_; }

  // Prints "<program>: <message>" to stderr and exits with status 2.
  [[noreturn]] void Die(absl::string_view message) const;
  // Does nothing for OK; otherwise dies with "<context>: <message>", or the bare message when
  // `context` is empty.
  void CheckOk(const absl::Status& status, absl::string_view context = {}) const;
  // The value, or dies as CheckOk.
  template <typename T>
  T ValueOrDie(absl::StatusOr<T> value, absl::string_view context = {}) const {
    CheckOk(value.status(), context);
    return *std::move(value);
  }

  // Serves /metrics on config().metrics_address when it is set; dies when it cannot bind.
  void ServeMetrics();

  // Starts the gRPC server with `services` (not owned; they must outlive RunUntilSignal) and logs
  // "<program> serving gRPC on port P, metrics on port M<detail>". Dies when it cannot listen.
  void StartGrpc(const std::vector<grpc::Service*>& services, absl::string_view detail = {});
  // The bound gRPC port once StartGrpc succeeded, else 0.
  int grpc_port() const;

  // For a process serving gRPC (after StartGrpc): writes the ready file with grpc_port and
  // metrics_port, waits for SIGINT or SIGTERM, shuts the gRPC server down (in-flight RPCs get
  // the shutdown grace, then are cancelled), runs `after_stop` in order (the executor, then what
  // the services used: followers, backends), and logs "<program> stopped". Dies when the ready
  // file cannot be written. Returns the process exit status, 0.
  int RunUntilSignal(std::vector<std::function<void()>> after_stop = {});

  // The same for a process whose server is not gRPC: `ready_ports` go into the ready file (with
  // metrics_port appended), the signal is logged with `stopping` ("closing connections"), then
  // `stop_serving` and `after_stop` run in that order.
  int RunUntilSignal(std::vector<std::pair<std::string, int>> ready_ports,
                     absl::string_view stopping, const std::function<void()>& stop_serving,
                     std::vector<std::function<void()>> after_stop = {});

 private:
  ServiceConfig config_;
  Metrics metrics_;
  std::unique_ptr<GrpcServer> grpc_;
};

}  // namespace kiln
