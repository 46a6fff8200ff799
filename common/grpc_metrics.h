// Per-RPC server metrics with the go-grpc-prometheus names, so stock dashboards work:
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_msg_received_total / grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method} (histogram)
// Recorded by a gRPC server interceptor, so handlers need no code for them. Thread-safe.
#pragma once

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/registry.h"

namespace kiln {

// Returns an interceptor factory recording into `registry`; the registry must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewGrpcMetricsInterceptor(
    prometheus::Registry& registry);

}  // namespace kiln
