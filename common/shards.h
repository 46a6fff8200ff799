// Placement of ledgers on shards, and gRPC channels to a service's replicas.
//
// A sharded service (metadata, block-store) is configured by a shard list: comma-separated gRPC
// targets in shard order, e.g.
//   kiln-metadata-0.kiln-metadata:7102,kiln-metadata-1.kiln-metadata:7102
// A ledger (tenant, ledger) lives on exactly one shard, chosen by rendezvous (highest random
// weight) hashing: every shard scores the ledger with SHA-256 over (shard position, tenant,
// ledger) and the highest score wins. The position in the list is the shard's identity, not its
// address, so two processes that spell the same shard differently still agree. Appending an
// (n+1)-th shard moves only the ~1/(n+1) of ledgers that now score highest there; removing or
// reordering shards moves ledgers and needs a migration. Edge and merge both route with
// ShardFor, so one ledger's state and blobs each stay on one shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ledger_ref.h"
#include "grpcpp/channel.h"

namespace kiln {

// The shard, in [0, shard_count), that holds `ledger` (also LedgerRef::ShardOf). shard_count must
// be positive.
size_t ShardFor(size_t shard_count, const LedgerRef& ledger);

// What a shard process (kiln-metadata, kiln-blockstore) owns: its position among `count` shards.
// Requests for a ledger placed on another shard are refused, so a deployment whose edge and merge
// disagree about the shard list fails loudly instead of splitting a ledger's state.
class ShardOwnership {
 public:
  ShardOwnership() = default;  // owns everything (a single, unsharded process)
  ShardOwnership(size_t index, size_t count) : index_(index), count_(count) {}

  // Parses --shard_index / --shard_count. `index` is a number or a name ending in "-<number>"
  // (a StatefulSet pod name such as kiln-metadata-2). count 0 means unsharded (index ignored).
  // INVALID_ARGUMENT when index is not below count.
  static absl::StatusOr<ShardOwnership> Parse(absl::string_view index, int64_t count);

  // FAILED_PRECONDITION naming both shards when `ledger` belongs to another shard.
  absl::Status Check(const LedgerRef& ledger) const;

  // The ledger a request names, validated once where the request is parsed: INVALID_ARGUMENT
  // naming `tenant_field` or `ledger_field` for a malformed id (LedgerRef::Parse), then
  // FAILED_PRECONDITION as Check. Layers below take the LedgerRef as it is.
  absl::StatusOr<LedgerRef> ParseOwned(absl::string_view tenant, absl::string_view ledger,
                                       absl::string_view tenant_field = "tenant",
                                       absl::string_view ledger_field = "ledger") const;

  bool sharded() const { return count_ > 0; }
  size_t index() const { return index_; }
  size_t count() const { return count_; }

 private:
  size_t index_ = 0;
  size_t count_ = 0;
};

// Parses a shard list ("a:1,b:2"). INVALID_ARGUMENT, naming `flag`, for an empty list, an empty
// entry or a duplicate target.
absl::StatusOr<std::vector<std::string>> ParseShardList(absl::string_view spec,
                                                        absl::string_view flag);

// An insecure channel to `target` that accepts messages up to 64 MiB. With `round_robin`, calls
// are spread over every address the target resolves to (e.g. dns:///kiln-merge:7103 on a
// headless Service, or ipv4:127.0.0.1:7103,127.0.0.1:7203) instead of sticking to the first.
std::shared_ptr<grpc::Channel> NewPeerChannel(const std::string& target, bool round_robin = false);

// One channel per shard of a shard list, and the routing of ledgers to them. Immutable and
// thread-safe.
class ShardedChannels {
 public:
  // INVALID_ARGUMENT as ParseShardList. A spec that starts with a gRPC resolver scheme
  // ("dns:", "ipv4:", "ipv6:") is not a shard list but one unsharded service whose replicas all
  // serve every ledger (metadata on PostgreSQL): one round-robin channel over every address.
  static absl::StatusOr<ShardedChannels> Create(absl::string_view spec, absl::string_view flag);
  // Wraps existing channels, in shard order (tests, single-shard callers).
  explicit ShardedChannels(std::vector<std::shared_ptr<grpc::Channel>> channels,
                           std::vector<std::string> targets = {});
  ShardedChannels(std::shared_ptr<grpc::Channel> single)  // NOLINT: one shard converts implicitly
      : ShardedChannels(std::vector<std::shared_ptr<grpc::Channel>>{std::move(single)}) {}

  size_t size() const { return channels_.size(); }
  size_t ShardOf(const LedgerRef& ledger) const { return ShardFor(channels_.size(), ledger); }
  const std::shared_ptr<grpc::Channel>& For(const LedgerRef& ledger) const {
    return channels_[ShardOf(ledger)];
  }
  const std::vector<std::shared_ptr<grpc::Channel>>& channels() const { return channels_; }
  // The targets as configured (empty strings for wrapped channels).
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::string> targets_;
};

// One stub per shard, made once, with the same routing.
template <typename Service>
class ShardedStubs {
 public:
  explicit ShardedStubs(const ShardedChannels& channels) {
    for (const auto& c : channels.channels()) stubs_.push_back(Service::NewStub(c));
  }
  typename Service::Stub* For(const LedgerRef& ledger) const {
    return stubs_[ShardFor(stubs_.size(), ledger)].get();
  }
  size_t size() const { return stubs_.size(); }

 private:
  std::vector<std::unique_ptr<typename Service::Stub>> stubs_;
};

}  // namespace kiln
