// gRPC transport of the control plane (kiln.control.v1.ControlService): checks the admin
// credential, validates, runs the work on the executor (it makes blocking calls to the storage
// shards), records changes in the audit log, maps statuses, counts outcomes.
//
// Threading: callback API; reactions only check and hand off, everything else runs on the
// bounded executor.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/jwt_issuer.h"
#include "common/ledger_ref.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/control/admin_auth.h"
#include "services/control/audit_log.h"
#include "services/control/ledger_admin.h"
#include "services/control/ledger_export.h"

namespace kiln::control {

struct ControlServiceOptions {
  // Longest validity IssueToken grants.
  absl::Duration max_token_validity = absl::Hours(24 * 31);
};

class ControlServiceImpl final : public v1::ControlService::CallbackService {
 public:
  // Everything by reference must outlive the service. `issuer` may be null (IssueToken and
  // GetIssuerKeys then answer FAILED_PRECONDITION); `previous_issuer_jwk` is the previous key's
  // public JWK published beside the current one, or empty.
  ControlServiceImpl(const ControlServiceOptions& options, const AdminAuth& auth,
                     LedgerAdmin& ledgers, const LedgerExporter& exporter, AuditLog& audit,
                     const TokenIssuer* issuer, std::string previous_issuer_jwk, const Clock& clock,
                     BoundedExecutor& executor, prometheus::Registry& registry);

  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* context,
                                        const v1::ListTenantsRequest* request,
                                        v1::ListTenantsResponse* response) override;
  grpc::ServerUnaryReactor* CreateLedger(grpc::CallbackServerContext* context,
                                         const v1::CreateLedgerRequest* request,
                                         v1::CreateLedgerResponse* response) override;
  grpc::ServerUnaryReactor* GetLedger(grpc::CallbackServerContext* context,
                                      const v1::GetLedgerRequest* request,
                                      v1::GetLedgerResponse* response) override;
  grpc::ServerUnaryReactor* ListLedgers(grpc::CallbackServerContext* context,
                                        const v1::ListLedgersRequest* request,
                                        v1::ListLedgersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteLedger(grpc::CallbackServerContext* context,
                                         const v1::DeleteLedgerRequest* request,
                                         v1::DeleteLedgerResponse* response) override;
  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* context,
                                            const v1::ListAuditEventsRequest* request,
                                            v1::ListAuditEventsResponse* response) override;
  grpc::ServerUnaryReactor* IssueToken(grpc::CallbackServerContext* context,
                                       const v1::IssueTokenRequest* request,
                                       v1::IssueTokenResponse* response) override;
  grpc::ServerUnaryReactor* GetIssuerKeys(grpc::CallbackServerContext* context,
                                          const v1::GetIssuerKeysRequest* request,
                                          v1::GetIssuerKeysResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportLedgerResponse>* ExportLedger(
      grpc::CallbackServerContext* context, const v1::ExportLedgerRequest* request) override;
  grpc::ServerReadReactor<v1::ImportLedgerRequest>* ImportLedger(
      grpc::CallbackServerContext* context, v1::ImportLedgerResponse* response) override;

 private:
  // Checks the credential, then `valid`, then runs `fn` on the executor and finishes `context`'s
  // reactor with its status.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, absl::Status valid,
                                absl::AnyInvocable<absl::Status()> fn);
  // Run for a request naming one ledger: `fn` gets the LedgerRef parsed from `tenant` and
  // `ledger`; INVALID_ARGUMENT naming the field when either is not a valid id.
  grpc::ServerUnaryReactor* RunForLedger(grpc::CallbackServerContext* context,
                                         const std::string& tenant, const std::string& ledger,
                                         absl::AnyInvocable<absl::Status(const LedgerRef&)> fn);
  // Appends an audit record for a change (its outcome from `status`); a failure to record turns
  // an OK into UNAVAILABLE (an unrecorded change must not look recorded).
  absl::Status Audit(const std::string& actor, absl::string_view action, const std::string& tenant,
                     const std::string& ledger, absl::Status status, std::string detail);

  const ControlServiceOptions options_;
  const AdminAuth& auth_;
  LedgerAdmin& ledgers_;
  const LedgerExporter& exporter_;
  AuditLog& audit_;
  const TokenIssuer* const issuer_;
  const std::string previous_issuer_jwk_;
  const Clock& clock_;
  BoundedExecutor& executor_;
  prometheus::Counter* refused_;
  prometheus::Counter* tokens_issued_;
  prometheus::Counter* ledgers_deleted_;
};

}  // namespace kiln::control
