// Calls of kiln.admin.v1.AdminService that several process tests make. Header-only; blocking,
// from the test thread.
#pragma once

#include <string>

#include "grpcpp/client_context.h"
#include "kiln/admin/v1/admin.grpc.pb.h"

namespace kiln::testing {

// Asks `admin` for a checkpoint named `name`; returns the call's status and, when `response` is
// given, fills it.
inline grpc::Status CreateCheckpoint(admin::v1::AdminService::Stub& admin, const std::string& name,
                                     admin::v1::CreateCheckpointResponse* response = nullptr) {
  grpc::ClientContext ctx;
  admin::v1::CreateCheckpointRequest request;
  request.set_name(name);
  admin::v1::CreateCheckpointResponse ignored;
  return admin.CreateCheckpoint(&ctx, request, response != nullptr ? response : &ignored);
}

}  // namespace kiln::testing
