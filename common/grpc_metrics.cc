#include "common/grpc_metrics.h"

#include <chrono>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace kiln {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// The code names Go's grpc uses (codes.Code.String()), which go-grpc-prometheus puts in grpc_code.
const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int i = static_cast<int>(code);
  return (i >= 0 && i <= 16) ? kNames[i] : "Unknown";
}

const char* TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
    default:
      return "unknown";
  }
}

// Metric children of one method, created on first use and cached.
struct MethodMetrics {
  prometheus::Counter* started;
  prometheus::Counter* received;
  prometheus::Counter* sent;
  prometheus::Histogram* seconds;
  prometheus::Counter* handled[17];
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(prometheus::Registry& registry)
      : started_(prometheus::BuildCounter()
                     .Name("grpc_server_started_total")
                     .Help("Total number of RPCs started on the server.")
                     .Register(registry)),
        handled_(prometheus::BuildCounter()
                     .Name("grpc_server_handled_total")
                     .Help("Total number of RPCs completed on the server, regardless of success "
                           "or failure.")
                     .Register(registry)),
        received_(prometheus::BuildCounter()
                      .Name("grpc_server_msg_received_total")
                      .Help("Total number of RPC stream messages received on the server.")
                      .Register(registry)),
        sent_(prometheus::BuildCounter()
                  .Name("grpc_server_msg_sent_total")
                  .Help("Total number of gRPC stream messages sent by the server.")
                  .Register(registry)),
        seconds_(prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Histogram of response latency (seconds) of gRPC that had been "
                           "application-level handled by the server.")
                     .Register(registry)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override;

  MethodMetrics* For(const char* full_method, ServerRpcInfo::Type type) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = cache_.try_emplace(full_method);
    if (inserted) {
      // "/pkg.Service/Method" -> service "pkg.Service", method "Method".
      std::string m(full_method);
      size_t slash = m.rfind('/');
      std::string service = slash == std::string::npos ? "" : m.substr(1, slash - 1);
      std::string method = slash == std::string::npos ? m : m.substr(slash + 1);
      prometheus::Labels labels{
          {"grpc_type", TypeName(type)}, {"grpc_service", service}, {"grpc_method", method}};
      MethodMetrics& mm = it->second;
      mm.started = &started_.Add(labels);
      mm.received = &received_.Add(labels);
      mm.sent = &sent_.Add(labels);
      mm.seconds = &seconds_.Add(
          labels, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
      for (int code = 0; code <= 16; ++code) {
        prometheus::Labels with_code = labels;
        with_code["grpc_code"] = CodeName(static_cast<grpc::StatusCode>(code));
        mm.handled[code] = &handled_.Add(with_code);
      }
    }
    return &it->second;
  }

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  absl::Mutex mu_;
  // node_hash_map: interceptors keep pointers to values, which must not move on rehash.
  absl::node_hash_map<std::string, MethodMetrics> cache_ ABSL_GUARDED_BY(mu_);
};

class Interceptor : public grpc::experimental::Interceptor {
 public:
  explicit Interceptor(MethodMetrics* metrics)
      : metrics_(metrics), start_(std::chrono::steady_clock::now()) {
    metrics_->started->Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      metrics_->received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      metrics_->sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      int code = static_cast<int>(methods->GetSendStatus().error_code());
      metrics_->handled[(code >= 0 && code <= 16) ? code : 2]->Increment();
      metrics_->seconds->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  MethodMetrics* metrics_;
  std::chrono::steady_clock::time_point start_;
};

grpc::experimental::Interceptor* Factory::CreateServerInterceptor(ServerRpcInfo* info) {
  if (info->method() == nullptr) return nullptr;
  return new Interceptor(For(info->method(), info->type()));
}

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewGrpcMetricsInterceptor(
    prometheus::Registry& registry) {
  return std::make_unique<Factory>(registry);
}

}  // namespace kiln
