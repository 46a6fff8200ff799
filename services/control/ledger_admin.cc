#include "services/control/ledger_admin.h"

#include <chrono>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/store_kind_proto.h"
#include "services/control/blob_listing.h"
#include "services/control/ledger_read.h"

namespace kiln::control {
namespace {

namespace mv1 = ::kiln::metadata::v1;
namespace bv1 = ::kiln::blockstore::v1;

v1::Ledger FromState(const mv1::LedgerState& state) {
  v1::Ledger out;
  out.set_tenant(state.tenant());
  out.set_ledger(state.ledger());
  out.set_version(state.version());
  out.set_head_count(static_cast<uint32_t>(state.heads_size()));
  return out;
}

}  // namespace

LedgerAdmin::LedgerAdmin(const ShardedChannels& metadata, const ShardedChannels& blockstore,
                         absl::Duration deadline)
    : metadata_(metadata), blockstore_(blockstore), deadline_(deadline) {
  for (const auto& channel : metadata.channels()) {
    metadata_shards_.push_back(mv1::MetadataService::NewStub(channel));
  }
}

void LedgerAdmin::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
}

template <typename Request, typename Response>
absl::StatusOr<Response> LedgerAdmin::CallLedgerShard(
    const LedgerRef& ledger,
    grpc::Status (mv1::MetadataService::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                    Response*)) const {
  grpc::ClientContext context;
  SetDeadline(&context);
  Request request;
  request.set_tenant(ledger.tenant());
  request.set_ledger(ledger.ledger());
  Response response;
  KILN_RETURN_IF_ERROR(FromGrpcStatus((metadata_.For(ledger)->*rpc)(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::ListTenantsResponse> LedgerAdmin::ListTenants(const std::string& page_token,
                                                                 size_t page_size) const {
  // Each shard returns its first page_size tenants after the token; the first page_size of their
  // union are the answer, and exactly those (any tenant before them would be in some shard's page).
  std::set<std::string> all;
  bool more = false;
  for (const auto& shard : metadata_shards_) {
    grpc::ClientContext context;
    SetDeadline(&context);
    mv1::ListTenantsRequest request;
    request.set_page_size(static_cast<uint32_t>(page_size));
    request.set_page_token(page_token);
    mv1::ListTenantsResponse response;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(shard->ListTenants(&context, request, &response)));
    all.insert(response.tenants().begin(), response.tenants().end());
    more |= !response.next_page_token().empty();
  }
  v1::ListTenantsResponse out;
  for (const auto& t : all) {
    if (static_cast<size_t>(out.tenants_size()) == page_size) {
      more = true;
      break;
    }
    out.add_tenants()->set_id(t);
  }
  if (more && out.tenants_size() > 0) out.set_next_page_token(out.tenants().rbegin()->id());
  return out;
}

absl::StatusOr<v1::ListLedgersResponse> LedgerAdmin::ListLedgers(const std::string& tenant,
                                                                 const std::string& page_token,
                                                                 size_t page_size) const {
  std::map<std::string, v1::Ledger> all;
  bool more = false;
  for (const auto& shard : metadata_shards_) {
    grpc::ClientContext context;
    SetDeadline(&context);
    mv1::ListLedgersRequest request;
    request.set_tenant(tenant);
    request.set_page_size(static_cast<uint32_t>(page_size));
    request.set_page_token(page_token);
    mv1::ListLedgersResponse response;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(shard->ListLedgers(&context, request, &response)));
    for (const auto& state : response.ledgers()) all[state.ledger()] = FromState(state);
    more |= !response.next_page_token().empty();
  }
  v1::ListLedgersResponse out;
  for (auto& [id, ledger] : all) {
    if (static_cast<size_t>(out.ledgers_size()) == page_size) {
      more = true;
      break;
    }
    *out.add_ledgers() = std::move(ledger);
  }
  if (more && out.ledgers_size() > 0) out.set_next_page_token(out.ledgers().rbegin()->ledger());
  return out;
}

absl::StatusOr<v1::Ledger> LedgerAdmin::GetLedger(const LedgerRef& ledger) const {
  KILN_ASSIGN_OR_RETURN(
      mv1::LedgerState state,
      GetExistingLedger(*metadata_.For(ledger), ledger, LedgerReadScope::kState, deadline_));
  return FromState(state);
}

absl::StatusOr<v1::Ledger> LedgerAdmin::CreateLedger(const LedgerRef& ledger) const {
  KILN_ASSIGN_OR_RETURN(mv1::CreateLedgerResponse response,
                        CallLedgerShard(ledger, &mv1::MetadataService::Stub::CreateLedger));
  if (!response.created()) {
    return absl::AlreadyExistsError(
        absl::StrCat("ledger ", ledger.tenant(), "/", ledger.ledger(), " exists"));
  }
  v1::Ledger out;
  out.set_tenant(ledger.tenant());
  out.set_ledger(ledger.ledger());
  return out;
}

absl::StatusOr<v1::DeleteLedgerResponse> LedgerAdmin::DeleteLedger(const LedgerRef& ledger) const {
  KILN_ASSIGN_OR_RETURN(mv1::DeleteLedgerResponse response,
                        CallLedgerShard(ledger, &mv1::MetadataService::Stub::DeleteLedger));
  v1::DeleteLedgerResponse out;
  out.set_existed(response.existed());
  out.set_version(response.version());
  uint64_t blobs = 0;
  for (StoreKind kind : kAllStoreKinds) {
    KILN_ASSIGN_OR_RETURN(uint64_t n, DeleteStore(ledger, ToProto(kind)));
    blobs += n;
  }
  out.set_blobs_deleted(blobs);
  if (blobs > 0) out.set_existed(true);
  return out;
}

absl::StatusOr<uint64_t> LedgerAdmin::DeleteStore(const LedgerRef& ledger, bv1::Store store) const {
  bv1::BlockStoreService::Stub* stub = blockstore_.For(ledger);
  uint64_t deleted = 0;
  KILN_RETURN_IF_ERROR(ForEachListedBlob(
      *stub, ledger, store, deadline_, [&](const bv1::BlobStat& blob) -> absl::Status {
        grpc::ClientContext dc;
        SetDeadline(&dc);
        bv1::DeleteRequest del;
        bv1::BlobRef* ref = del.mutable_ref();
        ref->set_tenant(ledger.tenant());
        ref->set_ledger(ledger.ledger());
        ref->set_store(store);
        ref->set_key(blob.key());
        bv1::DeleteResponse ignored;
        absl::Status s = FromGrpcStatus(stub->Delete(&dc, del, &ignored));
        if (s.ok()) {
          ++deleted;
        } else if (s.code() != absl::StatusCode::kNotFound) {  // deleted concurrently: fine
          return s;
        }
        return absl::OkStatus();
      }));
  return deleted;
}

}  // namespace kiln::control
