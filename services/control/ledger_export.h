// Moves ledgers in and out as bundles. Collects everything of one ledger into a LedgerBundle
// (services/control/bundle.h) for ExportLedger: the state and every gossiped key (metadata
// GetLedger), the whole hash-chained log (ReadLog, from seq 1), every entry the log names
// (GetEntries) and every blob of every store (block-store List and Get); loads a bundle into this
// deployment.
//
// Threading: thread-safe. Makes blocking gRPC calls with a deadline each: call it from the
// executor, never from a reaction. Holds the whole ledger in memory, so Collect refuses a ledger
// whose blobs total more than `max_blob_bytes` before reading any of them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/shards.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "services/control/bundle.h"

namespace kiln::control {

class LedgerExporter {
 public:
  LedgerExporter(const ShardedChannels& metadata, const ShardedChannels& blockstore,
                 absl::Duration deadline, uint64_t max_blob_bytes = kMaxBundleBytes);

  // NOT_FOUND when the ledger does not exist; DATA_LOSS when the log read back does not verify
  // or an entry it names is missing; RESOURCE_EXHAUSTED, with the total, when the ledger's blobs
  // exceed max_blob_bytes (listed sizes, checked before any blob is read); peer errors pass
  // through (UNAVAILABLE when a shard is down).
  absl::StatusOr<LedgerBundle> Collect(const LedgerRef& ledger) const;

  // Loads a verified bundle (ReadBundle's result) under its tenant and ledger: FAILED_PRECONDITION
  // when the ledger exists there; then every blob (block-store Put; an identical blob already
  // there is fine), then the metadata in one atomic write with the log unchanged (metadata
  // ImportLedger). Returns the imported version. Peer errors pass through.
  absl::StatusOr<uint64_t> Load(const LedgerBundle& bundle) const;

 private:
  absl::Status CollectLog(LedgerBundle* out) const;
  absl::Status CollectEntries(LedgerBundle* out) const;
  // Lists every blob of the ledger's stores and checks their total size against the limit.
  absl::StatusOr<std::vector<std::pair<blockstore::v1::Store, std::string>>> ListBlobs(
      const LedgerRef& ledger) const;
  absl::StatusOr<std::string> GetBlob(const blockstore::v1::BlobRef& ref) const;
  absl::Status PutBlob(const blockstore::v1::BlobRef& ref, const std::string& bytes) const;
  void SetDeadline(grpc::ClientContext* context) const;

  ShardedStubs<metadata::v1::MetadataService> metadata_;
  ShardedStubs<blockstore::v1::BlockStoreService> blockstore_;
  const absl::Duration deadline_;
  const uint64_t max_blob_bytes_;
};

}  // namespace kiln::control
