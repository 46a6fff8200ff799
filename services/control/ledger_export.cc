#include "services/control/ledger_export.h"

#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/store_kind_proto.h"
#include "services/control/blob_listing.h"
#include "services/control/ledger_read.h"

namespace kiln::control {
namespace {

namespace mv1 = ::kiln::metadata::v1;
namespace bv1 = ::kiln::blockstore::v1;

constexpr int kEntriesPerCall = 1000;

constexpr size_t kPutChunkBytes = 1 << 20;

}  // namespace

LedgerExporter::LedgerExporter(const ShardedChannels& metadata, const ShardedChannels& blockstore,
                               absl::Duration deadline, uint64_t max_blob_bytes)
    : metadata_(metadata),
      blockstore_(blockstore),
      deadline_(deadline),
      max_blob_bytes_(max_blob_bytes) {}

void LedgerExporter::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
}

absl::StatusOr<LedgerBundle> LedgerExporter::Collect(const LedgerRef& ledger) const {
  LedgerBundle out;
  out.tenant = ledger.tenant();
  out.ledger = ledger.ledger();
  {
    KILN_ASSIGN_OR_RETURN(mv1::LedgerState state,
                          GetExistingLedger(*metadata_.For(ledger), ledger,
                                            LedgerReadScope::kWithEntries, deadline_));
    out.version = state.version();
    out.heads.assign(state.heads().begin(), state.heads().end());
    out.keys.assign(state.keys().begin(), state.keys().end());
    out.key_count = out.keys.size();
  }
  KILN_ASSIGN_OR_RETURN(auto blobs, ListBlobs(ledger));
  KILN_RETURN_IF_ERROR(CollectLog(&out));
  KILN_RETURN_IF_ERROR(CollectEntries(&out));
  for (auto& [store, key] : blobs) {
    bv1::BlobRef ref;
    ref.set_tenant(ledger.tenant());
    ref.set_ledger(ledger.ledger());
    ref.set_store(store);
    ref.set_key(key);
    KILN_ASSIGN_OR_RETURN(std::string bytes, GetBlob(ref));
    out.blobs.push_back(BundleBlob{std::string(StoreKindName(*StoreKindFromProto(store))),
                                   std::move(key), std::move(bytes)});
  }
  return out;
}

absl::Status LedgerExporter::CollectLog(LedgerBundle* out) const {
  for (uint64_t from = 1;;) {
    grpc::ClientContext context;
    SetDeadline(&context);
    mv1::ReadLogRequest request;
    request.set_tenant(out->tenant);
    request.set_ledger(out->ledger);
    request.set_from_seq(from);
    request.set_limit(1000);
    mv1::ReadLogResponse page;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(
        metadata_.For(LedgerRef(out->tenant, out->ledger))->ReadLog(&context, request, &page)));
    if (page.raw_records_size() != page.records_size()) {
      return absl::DataLossError("ReadLog answered records without their stored bytes");
    }
    out->log_head_sha256 = page.head_sha256();
    for (const std::string& raw : page.raw_records()) out->log_records.push_back(raw);
    if (page.records().empty() || page.records_size() < 1000) return absl::OkStatus();
    from = page.records().rbegin()->seq() + 1;
  }
}

absl::Status LedgerExporter::CollectEntries(LedgerBundle* out) const {
  std::vector<std::string> cids;
  std::set<std::string> seen;
  for (const std::string& raw : out->log_records) {
    mv1::LogRecord record;
    if (!record.ParseFromString(raw)) return absl::DataLossError("a log record does not parse");
    for (const std::string& cid : record.entry_cids()) {
      if (seen.insert(cid).second) cids.push_back(cid);
    }
  }
  for (size_t i = 0; i < cids.size(); i += kEntriesPerCall) {
    grpc::ClientContext context;
    SetDeadline(&context);
    mv1::GetEntriesRequest request;
    request.set_tenant(out->tenant);
    request.set_ledger(out->ledger);
    for (size_t j = i; j < cids.size() && j < i + kEntriesPerCall; ++j) request.add_cids(cids[j]);
    mv1::GetEntriesResponse response;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(metadata_.For(LedgerRef(out->tenant, out->ledger))
                                            ->GetEntries(&context, request, &response)));
    for (const mv1::MetaEntry& e : response.entries()) {
      out->entries.push_back(
          BundleEntry{e.cid(), {e.parents().begin(), e.parents().end()}, e.data()});
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<bv1::Store, std::string>>> LedgerExporter::ListBlobs(
    const LedgerRef& ledger) const {
  std::vector<std::pair<bv1::Store, std::string>> blobs;
  uint64_t total = 0;
  for (StoreKind kind : kAllStoreKinds) {
    const bv1::Store store = ToProto(kind);
    KILN_RETURN_IF_ERROR(ForEachListedBlob(*blockstore_.For(ledger), ledger, store, deadline_,
                                           [&](const bv1::BlobStat& blob) {
                                             total += blob.size();
                                             blobs.emplace_back(store, blob.key());
                                             return absl::OkStatus();
                                           }));
  }
  if (total > max_blob_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the ledger's ", blobs.size(), " blobs total ", total, " bytes, over the ", max_blob_bytes_,
        " bytes a bundle can hold today (kiln-control builds it in memory)"));
  }
  return blobs;
}

absl::StatusOr<std::string> LedgerExporter::GetBlob(const bv1::BlobRef& ref) const {
  grpc::ClientContext context;
  SetDeadline(&context);
  bv1::GetRequest request;
  *request.mutable_ref() = ref;
  std::unique_ptr<grpc::ClientReader<bv1::GetResponse>> reader =
      blockstore_.For(LedgerRef(ref.tenant(), ref.ledger()))->Get(&context, request);
  std::string bytes;
  bv1::GetResponse chunk;
  while (reader->Read(&chunk)) bytes += chunk.data();
  KILN_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  return bytes;
}

absl::Status LedgerExporter::PutBlob(const bv1::BlobRef& ref, const std::string& bytes) const {
  grpc::ClientContext context;
  SetDeadline(&context);
  bv1::PutResponse response;
  auto writer = blockstore_.For(LedgerRef(ref.tenant(), ref.ledger()))->Put(&context, &response);
  bv1::PutRequest first;
  *first.mutable_ref() = ref;
  first.set_size(bytes.size());
  first.set_sha256(DigestBytes(Sha256(bytes)));
  size_t offset = 0;
  bv1::PutRequest* next = &first;
  bv1::PutRequest later;
  do {
    next->set_data(bytes.substr(offset, kPutChunkBytes));
    offset += kPutChunkBytes;
    if (!writer->Write(*next)) break;
    next = &later;
  } while (offset < bytes.size());
  writer->WritesDone();
  absl::Status s = FromGrpcStatus(writer->Finish());
  if (s.code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  return s;
}

absl::StatusOr<uint64_t> LedgerExporter::Load(const LedgerBundle& bundle) const {
  auto* metadata = metadata_.For(LedgerRef(bundle.tenant, bundle.ledger));
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    mv1::GetLedgerRequest request;
    request.set_tenant(bundle.tenant);
    request.set_ledger(bundle.ledger);
    mv1::GetLedgerResponse response;
    KILN_RETURN_IF_ERROR(FromGrpcStatus(metadata->GetLedger(&context, request, &response)));
    if (response.exists()) {
      return absl::FailedPreconditionError(
          absl::StrCat("ledger ", bundle.tenant, "/", bundle.ledger,
                       " exists here; delete it first or import it elsewhere"));
    }
  }
  if (bundle.log_records.empty()) {
    return absl::FailedPreconditionError(
        "the bundle's ledger was never written; nothing to import");
  }
  for (const BundleBlob& blob : bundle.blobs) {
    std::optional<StoreKind> kind = StoreKindFromName(blob.store);
    if (!kind.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown blob store \"", blob.store, "\""));
    }
    const bv1::Store store = ToProto(*kind);
    bv1::BlobRef ref;
    ref.set_tenant(bundle.tenant);
    ref.set_ledger(bundle.ledger);
    ref.set_store(store);
    ref.set_key(blob.key);
    KILN_RETURN_IF_ERROR(PutBlob(ref, blob.bytes));
  }
  grpc::ClientContext context;
  SetDeadline(&context);
  mv1::ImportLedgerRequest request;
  request.set_tenant(bundle.tenant);
  request.set_ledger(bundle.ledger);
  for (const std::string& r : bundle.log_records) request.add_raw_records(r);
  for (const BundleEntry& e : bundle.entries) {
    mv1::MetaEntry* m = request.add_entries();
    m->set_cid(e.cid);
    m->set_data(e.data);
    for (const std::string& p : e.parents) m->add_parents(p);
  }
  for (const std::string& k : bundle.keys) request.add_keys(k);
  mv1::ImportLedgerResponse response;
  KILN_RETURN_IF_ERROR(FromGrpcStatus(metadata->ImportLedger(&context, request, &response)));
  return response.version();
}

}  // namespace kiln::control
