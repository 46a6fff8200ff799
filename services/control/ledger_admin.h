// The ledger operations of the control plane over the storage shards: listing tenants and
// ledgers across every metadata shard (merged in id order), creating a ledger on its shard, and
// deleting one from its metadata shard (which ends its Watch streams, so edges tell their
// clients) and then its block-store shard (every blob of every store).
//
// Threading: thread-safe. Every method makes blocking gRPC calls with a deadline: call them from
// the executor, never from a reaction.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/shards.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "kiln/control/v1/control.pb.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::control {

class LedgerAdmin {
 public:
  // `metadata` and `blockstore` are the shard lists, in the order edge and merge use.
  LedgerAdmin(const ShardedChannels& metadata, const ShardedChannels& blockstore,
              absl::Duration deadline);

  // Tenants of every shard, merged and de-duplicated, after `page_token`. Peer errors pass
  // through (UNAVAILABLE when a shard is down).
  absl::StatusOr<v1::ListTenantsResponse> ListTenants(const std::string& page_token,
                                                      size_t page_size) const;
  // The tenant's ledgers of every shard, merged in id order.
  absl::StatusOr<v1::ListLedgersResponse> ListLedgers(const std::string& tenant,
                                                      const std::string& page_token,
                                                      size_t page_size) const;
  // NOT_FOUND when the ledger has no record.
  absl::StatusOr<v1::Ledger> GetLedger(const LedgerRef& ledger) const;
  // ALREADY_EXISTS when it exists.
  absl::StatusOr<v1::Ledger> CreateLedger(const LedgerRef& ledger) const;
  // Metadata first, then every blob; idempotent. A failure part-way leaves the rest for a retry.
  absl::StatusOr<v1::DeleteLedgerResponse> DeleteLedger(const LedgerRef& ledger) const;

 private:
  // Every blob of one store of the ledger; returns how many were deleted.
  absl::StatusOr<uint64_t> DeleteStore(const LedgerRef& ledger, blockstore::v1::Store store) const;
  void SetDeadline(grpc::ClientContext* context) const;
  // Calls `rpc` on the ledger's metadata shard with a request naming the ledger, within the
  // deadline; the response, or the call's status (peer errors pass through).
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallLedgerShard(
      const LedgerRef& ledger,
      grpc::Status (metadata::v1::MetadataService::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                               Response*)) const;

  ShardedStubs<metadata::v1::MetadataService> metadata_;
  std::vector<std::unique_ptr<metadata::v1::MetadataService::Stub>> metadata_shards_;
  ShardedStubs<blockstore::v1::BlockStoreService> blockstore_;
  const absl::Duration deadline_;
};

}  // namespace kiln::control
