#include "common/service_main.h"

#include <cstdlib>
#include <iostream>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "glog/logging.h"

namespace kiln {

void StartServiceProcess(int argc, char** argv, const ProcessStartOptions& options) {
  BlockTerminationSignals();
  if (options.tune_malloc) TuneMalloc();
  absl::SetProgramUsageMessage(options.usage);
  absl::ParseCommandLine(argc, argv);
  InitLogging(argv[0]);
}

ServiceConfig ServiceConfig::Grpc(std::string program, std::string grpc_address,
                                  std::string metrics_address, std::string ready_file,
                                  absl::Duration shutdown_grace) {
  ServiceConfig config;
  config.program = std::move(program);
  config.grpc.grpc_address = std::move(grpc_address);
  config.grpc.shutdown_grace = shutdown_grace;
  config.metrics_address = std::move(metrics_address);
  config.ready_file = std::move(ready_file);
  return config;
}

absl::Status ServiceConfig::Validate() const {
  if (program.empty()) return absl::InvalidArgumentError("the program name is empty");
  if (grpc.grpc_address.empty()) return absl::InvalidArgumentError("--grpc_address is empty");
  if (grpc.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--shutdown_grace must not be negative");
  }
  if (grpc.max_receive_message_bytes < 1) {
    return absl::InvalidArgumentError("the largest gRPC message must be at least one byte");
  }
  if (!metrics_address.empty() && metrics_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_address ", metrics_address, " has no port (host:port)"));
  }
  return absl::OkStatus();
}

ServiceMain::ServiceMain(ServiceConfig config) : config_(std::move(config)) {
  CheckOk(config_.Validate());
}

ServiceMain::~ServiceMain() = default;

void ServiceMain::Die(absl::string_view message) const {
  std::cerr << config_.program << ": " << message << std::endl;
  std::exit(2);
}

void ServiceMain::CheckOk(const absl::Status& status, absl::string_view context) const {
  if (status.ok()) return;
  if (context.empty()) Die(status.message());
  Die(absl::StrCat(context, ": ", status.message()));
}

void ServiceMain::ServeMetrics() {
  if (!config_.metrics_address.empty()) CheckOk(metrics_.Serve(config_.metrics_address));
}

void ServiceMain::StartGrpc(const std::vector<grpc::Service*>& services, absl::string_view detail) {
  grpc_ = ValueOrDie(GrpcServer::Start(config_.grpc, services, metrics_));
  LOG(INFO) << config_.program << " serving gRPC on port " << grpc_->port() << ", metrics on port "
            << metrics_.port() << detail;
}

int ServiceMain::grpc_port() const { return grpc_ == nullptr ? 0 : grpc_->port(); }

int ServiceMain::RunUntilSignal(std::vector<std::function<void()>> after_stop) {
  CHECK(grpc_ != nullptr) << "RunUntilSignal before StartGrpc";
  return RunUntilSignal(
      {{"grpc_port", grpc_->port()}}, "draining in-flight RPCs", [this] { grpc_.reset(); },
      std::move(after_stop));
}

int ServiceMain::RunUntilSignal(std::vector<std::pair<std::string, int>> ready_ports,
                                absl::string_view stopping,
                                const std::function<void()>& stop_serving,
                                std::vector<std::function<void()>> after_stop) {
  if (!config_.ready_file.empty()) {
    ready_ports.emplace_back("metrics_port", metrics_.port());
    CheckOk(WriteReadyFile(config_.ready_file, ready_ports));
  }
  int sig = WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": " << stopping;
  stop_serving();
  for (const std::function<void()>& step : after_stop) step();
  LOG(INFO) << config_.program << " stopped";
  return 0;
}

}  // namespace kiln
