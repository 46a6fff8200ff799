#include "services/control/control_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/unary_reactor.h"
#include "common/unlabelled_metrics.h"
#include "glog/logging.h"

namespace kiln::control {
namespace {

constexpr size_t kMaxActorBytes = 128;

size_t PageSize(uint32_t requested) {
  return requested == 0 ? 100 : std::min<uint32_t>(requested, 1000);
}

// Who made the call, for the audit log: "x-kiln-actor" (printable, bounded) or "admin".
std::string Actor(const grpc::CallbackServerContext& context) {
  auto it = context.client_metadata().find("x-kiln-actor");
  if (it == context.client_metadata().end() || it->second.empty() ||
      it->second.size() > kMaxActorBytes) {
    return "admin";
  }
  std::string actor(it->second.data(), it->second.size());
  for (char c : actor) {
    if (c < 0x20 || c > 0x7e) return "admin";
  }
  return actor;
}

constexpr size_t kExportChunkBytes = 1 << 20;

// Streams a bundle built on the executor in kExportChunkBytes pieces. Deletes itself in OnDone.
class ExportReactor : public grpc::ServerWriteReactor<v1::ExportLedgerResponse> {
 public:
  // Finishes at once with `refused` when it is not OK; otherwise runs `build` on `executor` and
  // streams what it returns.
  ExportReactor(absl::Status refused, BoundedExecutor& executor,
                absl::AnyInvocable<absl::StatusOr<std::string>()> build) {
    if (!refused.ok()) {
      Finish(ToGrpcStatus(refused));
      return;
    }
    absl::Status submitted = executor.TrySubmit([this, build = std::move(build)]() mutable {
      absl::StatusOr<std::string> bundle = build();
      if (!bundle.ok()) {
        if (bundle.status().code() == absl::StatusCode::kInternal ||
            bundle.status().code() == absl::StatusCode::kUnavailable) {
          LOG(ERROR) << "export failed: " << bundle.status().message();
        }
        Finish(ToGrpcStatus(bundle.status()));
        return;
      }
      bundle_ = *std::move(bundle);
      WriteNext();
    });
    if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "export stream closed"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (offset_ >= bundle_.size() && offset_ > 0) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.set_data(bundle_.substr(offset_, kExportChunkBytes));
    offset_ += kExportChunkBytes;
    StartWrite(&chunk_);
  }

  std::string bundle_;
  size_t offset_ = 0;
  v1::ExportLedgerResponse chunk_;
};

// Gathers an import stream, then runs `load` on the executor with the whole file and the first
// message's sealing key, and finishes with its status. Deletes itself in OnDone.
class ImportReactor : public grpc::ServerReadReactor<v1::ImportLedgerRequest> {
 public:
  using Load = absl::AnyInvocable<absl::Status(std::string file, std::string sealing_key)>;

  ImportReactor(absl::Status refused, BoundedExecutor& executor, Load load)
      : executor_(executor), load_(std::move(load)) {
    if (!refused.ok()) {
      Finish(ToGrpcStatus(refused));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      if (first_) sealing_key_ = request_.sealing_key();
      first_ = false;
      if (file_.size() + request_.data().size() > kMaxBundleBytes) {
        Finish(ToGrpcStatus(absl::ResourceExhaustedError("bundles over 1 GiB are not accepted")));
        return;
      }
      file_ += request_.data();
      StartRead(&request_);
      return;
    }
    absl::Status submitted = executor_.TrySubmit(
        [this]() { Finish(ToGrpcStatus(load_(std::move(file_), std::move(sealing_key_)))); });
    if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
  }

  void OnDone() override { delete this; }

 private:
  BoundedExecutor& executor_;
  Load load_;
  v1::ImportLedgerRequest request_;
  bool first_ = true;
  std::string file_;
  std::string sealing_key_;
};

}  // namespace

ControlServiceImpl::ControlServiceImpl(const ControlServiceOptions& options, const AdminAuth& auth,
                                       LedgerAdmin& ledgers, const LedgerExporter& exporter,
                                       AuditLog& audit, const TokenIssuer* issuer,
                                       std::string previous_issuer_jwk, const Clock& clock,
                                       BoundedExecutor& executor, prometheus::Registry& registry)
    : options_(options),
      auth_(auth),
      ledgers_(ledgers),
      exporter_(exporter),
      audit_(audit),
      issuer_(issuer),
      previous_issuer_jwk_(std::move(previous_issuer_jwk)),
      clock_(clock),
      executor_(executor) {
  refused_ = &UnlabelledCounter(registry, "kiln_control_unauthenticated_total",
                                "Control calls refused for a missing or wrong admin credential.");
  tokens_issued_ = &UnlabelledCounter(registry, "kiln_control_tokens_issued_total",
                                      "Session tokens minted by IssueToken.");
  ledgers_deleted_ = &UnlabelledCounter(registry, "kiln_control_ledgers_deleted_total",
                                        "DeleteLedger calls that succeeded (including repeats).");
}

grpc::ServerUnaryReactor* ControlServiceImpl::Run(grpc::CallbackServerContext* context,
                                                  absl::Status valid,
                                                  absl::AnyInvocable<absl::Status()> fn) {
  auto* reactor = context->DefaultReactor();
  if (absl::Status auth = auth_.Check(*context); !auth.ok()) {
    refused_->Increment();
    reactor->Finish(ToGrpcStatus(auth));
    return reactor;
  }
  RunUnary(executor_, reactor, std::move(valid), std::move(fn), [](const absl::Status& s) {
    if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnavailable) {
      LOG(ERROR) << "control call failed: " << s.message();
    }
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControlServiceImpl::RunForLedger(
    grpc::CallbackServerContext* context, const std::string& tenant, const std::string& ledger,
    absl::AnyInvocable<absl::Status(const LedgerRef&)> fn) {
  // The one validation of the ids. Its status is read before `ref` moves into the work, which
  // Run calls only when the status is OK.
  absl::StatusOr<LedgerRef> ref = LedgerRef::Parse(tenant, ledger);
  absl::Status valid = ref.status();
  return Run(context, std::move(valid),
             [ref = std::move(ref), fn = std::move(fn)]() mutable { return fn(*ref); });
}

absl::Status ControlServiceImpl::Audit(const std::string& actor, absl::string_view action,
                                       const std::string& tenant, const std::string& ledger,
                                       absl::Status status, std::string detail) {
  v1::AuditEvent event;
  event.set_unix_micros(absl::ToUnixMicros(clock_.Now()));
  event.set_actor(actor);
  event.set_action(std::string(action));
  event.set_tenant(tenant);
  event.set_ledger(ledger);
  event.set_outcome(status.ok() ? "ok" : absl::StatusCodeToString(status.code()));
  event.set_detail(std::move(detail));
  absl::StatusOr<uint64_t> recorded = audit_.Append(std::move(event));
  if (!recorded.ok() && status.ok()) return recorded.status();
  return status;
}

grpc::ServerUnaryReactor* ControlServiceImpl::ListTenants(grpc::CallbackServerContext* context,
                                                          const v1::ListTenantsRequest* request,
                                                          v1::ListTenantsResponse* response) {
  return Run(context, absl::OkStatus(), [this, request, response]() -> absl::Status {
    KILN_ASSIGN_OR_RETURN(
        *response, ledgers_.ListTenants(request->page_token(), PageSize(request->page_size())));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControlServiceImpl::CreateLedger(grpc::CallbackServerContext* context,
                                                           const v1::CreateLedgerRequest* request,
                                                           v1::CreateLedgerResponse* response) {
  return RunForLedger(
      context, request->tenant(), request->ledger(),
      [this, response, actor = Actor(*context)](const LedgerRef& ref) -> absl::Status {
        absl::StatusOr<v1::Ledger> created = ledgers_.CreateLedger(ref);
        if (created.ok()) *response->mutable_ledger() = *created;
        return Audit(actor, "ledger.create", ref.tenant(), ref.ledger(), created.status(), "");
      });
}

grpc::ServerUnaryReactor* ControlServiceImpl::GetLedger(grpc::CallbackServerContext* context,
                                                        const v1::GetLedgerRequest* request,
                                                        v1::GetLedgerResponse* response) {
  return RunForLedger(context, request->tenant(), request->ledger(),
                      [this, response](const LedgerRef& ref) -> absl::Status {
                        KILN_ASSIGN_OR_RETURN(*response->mutable_ledger(), ledgers_.GetLedger(ref));
                        return absl::OkStatus();
                      });
}

grpc::ServerUnaryReactor* ControlServiceImpl::ListLedgers(grpc::CallbackServerContext* context,
                                                          const v1::ListLedgersRequest* request,
                                                          v1::ListLedgersResponse* response) {
  return Run(context, ValidateId(request->tenant(), "tenant"),
             [this, request, response]() -> absl::Status {
               KILN_ASSIGN_OR_RETURN(*response,
                                     ledgers_.ListLedgers(request->tenant(), request->page_token(),
                                                          PageSize(request->page_size())));
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* ControlServiceImpl::DeleteLedger(grpc::CallbackServerContext* context,
                                                           const v1::DeleteLedgerRequest* request,
                                                           v1::DeleteLedgerResponse* response) {
  return RunForLedger(
      context, request->tenant(), request->ledger(),
      [this, response, actor = Actor(*context)](const LedgerRef& ref) -> absl::Status {
        absl::StatusOr<v1::DeleteLedgerResponse> deleted = ledgers_.DeleteLedger(ref);
        std::string detail;
        if (deleted.ok()) {
          *response = *deleted;
          ledgers_deleted_->Increment();
          detail = absl::StrCat(deleted->existed() ? "" : "nothing to delete; ", "version ",
                                deleted->version(), ", ", deleted->blobs_deleted(), " blobs");
        } else {
          detail = std::string(deleted.status().message());
        }
        return Audit(actor, "ledger.delete", ref.tenant(), ref.ledger(), deleted.status(),
                     std::move(detail));
      });
}

grpc::ServerUnaryReactor* ControlServiceImpl::ListAuditEvents(
    grpc::CallbackServerContext* context, const v1::ListAuditEventsRequest* request,
    v1::ListAuditEventsResponse* response) {
  return Run(context, absl::OkStatus(), [this, request, response]() -> absl::Status {
    for (auto& e : audit_.Read(request->from_seq(), PageSize(request->limit()))) {
      *response->add_events() = std::move(e);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControlServiceImpl::IssueToken(grpc::CallbackServerContext* context,
                                                         const v1::IssueTokenRequest* request,
                                                         v1::IssueTokenResponse* response) {
  absl::Status valid = absl::OkStatus();
  for (const auto& t : request->tenants()) {
    if (valid.ok()) valid = ValidateId(t, "tenants[]");
  }
  for (const auto& l : request->ledgers()) {
    if (valid.ok()) valid = ValidateId(l.ledger(), "ledgers[].ledger");
  }
  absl::Duration valid_for =
      request->valid_seconds() == 0 ? absl::Hours(1) : absl::Seconds(request->valid_seconds());
  if (valid.ok() && valid_for > options_.max_token_validity) {
    valid = absl::InvalidArgumentError(
        absl::StrCat("valid_seconds is over the limit of ",
                     absl::ToInt64Seconds(options_.max_token_validity), " seconds"));
  }
  if (valid.ok() && issuer_ == nullptr) {
    valid = absl::FailedPreconditionError(
        "kiln-control runs without an issuer key (--issuer_key_file); it cannot mint tokens");
  }
  return Run(context, valid,
             [this, request, response, valid_for, actor = Actor(*context)]() -> absl::Status {
               TokenGrant grant;
               grant.user_id = request->user_id();
               grant.email = request->email();
               grant.tenants.assign(request->tenants().begin(), request->tenants().end());
               for (const auto& l : request->ledgers()) {
                 grant.ledgers.push_back({l.ledger(), l.right()});
               }
               grant.selected_tenant = request->selected_tenant();
               grant.selected_ledger = request->selected_ledger();
               grant.valid_for = valid_for;
               absl::Time now = clock_.Now();
               absl::StatusOr<std::string> token = issuer_->Issue(grant, now);
               std::string tenant = grant.tenants.empty() ? "" : grant.tenants[0];
               std::string ledger = grant.ledgers.empty() ? "" : grant.ledgers[0].id;
               if (token.ok()) {
                 response->set_token(*token);
                 response->set_expires_unix_seconds(absl::ToUnixSeconds(now + valid_for));
                 response->set_kid(issuer_->kid());
                 tokens_issued_->Increment();
               }
               // The audit record names the grant, never the token.
               return Audit(actor, "token.issue", tenant, ledger, token.status(),
                            absl::StrCat("user ", grant.user_id, ", ", grant.tenants.size(),
                                         " tenant(s), ", grant.ledgers.size(), " ledger(s), valid ",
                                         absl::FormatDuration(valid_for)));
             });
}

grpc::ServerUnaryReactor* ControlServiceImpl::GetIssuerKeys(grpc::CallbackServerContext* context,
                                                            const v1::GetIssuerKeysRequest*,
                                                            v1::GetIssuerKeysResponse* response) {
  absl::Status valid = issuer_ == nullptr
                           ? absl::FailedPreconditionError(
                                 "kiln-control runs without an issuer key (--issuer_key_file)")
                           : absl::OkStatus();
  return Run(context, valid, [this, response]() -> absl::Status {
    std::string jwks = "{\"keys\":[" + issuer_->public_jwk();
    if (!previous_issuer_jwk_.empty()) jwks += "," + previous_issuer_jwk_;
    response->set_jwks(jwks + "]}");
    response->set_current_public_pem(issuer_->public_pem());
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::ExportLedgerResponse>* ControlServiceImpl::ExportLedger(
    grpc::CallbackServerContext* context, const v1::ExportLedgerRequest* request) {
  absl::StatusOr<LedgerRef> ref = LedgerRef::Parse(request->tenant(), request->ledger());
  absl::Status refused = auth_.Check(*context);
  if (!refused.ok()) {
    refused_->Increment();
  } else {
    refused = ref.status();
  }
  absl::StatusOr<KeySealer> sealer = KeySealer::Create(request->sealing_key());
  if (refused.ok() && !sealer.ok()) {
    refused = absl::InvalidArgumentError("sealing_key must be 32 bytes");
  }
  return new ExportReactor(
      refused, executor_,
      [this, ref = std::move(ref), actor = Actor(*context),
       sealer = std::move(sealer)]() -> absl::StatusOr<std::string> {
        absl::StatusOr<LedgerBundle> bundle = exporter_.Collect(*ref);
        std::string detail =
            bundle.ok() ? absl::StrCat("version ", bundle->version, ", ", bundle->blobs.size(),
                                       " blobs, ", bundle->entries.size(), " entries, ",
                                       bundle->log_records.size(), " log records")
                        : std::string(bundle.status().message());
        KILN_RETURN_IF_ERROR(Audit(actor, "ledger.export", ref->tenant(), ref->ledger(),
                                   bundle.status(), std::move(detail)));
        return WriteBundle(*bundle, *sealer);
      });
}

grpc::ServerReadReactor<v1::ImportLedgerRequest>* ControlServiceImpl::ImportLedger(
    grpc::CallbackServerContext* context, v1::ImportLedgerResponse* response) {
  absl::Status refused = auth_.Check(*context);
  if (!refused.ok()) refused_->Increment();
  return new ImportReactor(
      refused, executor_,
      [this, response, actor = Actor(*context)](std::string file,
                                                std::string sealing_key) -> absl::Status {
        absl::StatusOr<KeySealer> sealer = KeySealer::Create(sealing_key);
        if (!sealer.ok()) return absl::InvalidArgumentError("sealing_key must be 32 bytes");
        absl::StatusOr<LedgerBundle> bundle = ReadBundle(file, &*sealer);
        if (!bundle.ok()) {
          return Audit(actor, "ledger.import", "", "", bundle.status(),
                       std::string(bundle.status().message()));
        }
        absl::Status valid = LedgerRef::Parse(bundle->tenant, bundle->ledger).status();
        if (!valid.ok()) return absl::DataLossError(valid.message());
        absl::StatusOr<uint64_t> version = exporter_.Load(*bundle);
        if (version.ok()) {
          response->set_tenant(bundle->tenant);
          response->set_ledger(bundle->ledger);
          response->set_version(*version);
          response->set_blobs(bundle->blobs.size());
        }
        return Audit(actor, "ledger.import", bundle->tenant, bundle->ledger, version.status(),
                     version.ok()
                         ? absl::StrCat("version ", *version, ", ", bundle->blobs.size(), " blobs")
                         : std::string(version.status().message()));
      });
}

}  // namespace kiln::control
