#include "common/shards.h"

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace kiln {
namespace {

// The weight of `shard` for a ledger: the first 8 bytes of SHA-256("kiln-shard" 0x00 position
// tenant 0x00 ledger), big-endian. Tenant and ledger ids never contain NUL (common/ids.h), so the
// encoding is unambiguous. Fixed forever: changing it moves every ledger.
uint64_t Weight(uint32_t shard, const LedgerRef& ledger) {
  std::string input("kiln-shard\0", 11);
  for (int i = 3; i >= 0; --i) input.push_back(static_cast<char>((shard >> (8 * i)) & 0xff));
  absl::StrAppend(&input, ledger.tenant());
  input.push_back('\0');
  absl::StrAppend(&input, ledger.ledger());
  Sha256Digest d = Sha256(input);
  uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w = (w << 8) | d[i];
  return w;
}

}  // namespace

size_t ShardFor(size_t shard_count, const LedgerRef& ledger) {
  if (shard_count <= 1) return 0;
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < shard_count; ++i) {
    uint64_t w = Weight(static_cast<uint32_t>(i), ledger);
    if (i == 0 || w > best_weight) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

absl::StatusOr<ShardOwnership> ShardOwnership::Parse(absl::string_view index, int64_t count) {
  if (count < 0) return absl::InvalidArgumentError("--shard_count must not be negative");
  if (count == 0) return ShardOwnership();
  absl::string_view digits = index;
  if (size_t dash = index.rfind('-'); dash != absl::string_view::npos) {
    digits = index.substr(dash + 1);
  }
  uint64_t i = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &i)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shard_index \"", index,
                     "\" is neither a number nor a name ending in -<number> (a StatefulSet pod)"));
  }
  if (i >= static_cast<uint64_t>(count)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shard_index ", i, " is not below --shard_count ", count));
  }
  return ShardOwnership(static_cast<size_t>(i), static_cast<size_t>(count));
}

absl::Status ShardOwnership::Check(const LedgerRef& ledger) const {
  if (count_ == 0) return absl::OkStatus();
  size_t owner = ShardFor(count_, ledger);
  if (owner == index_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("ledger ", ledger.tenant(), "/", ledger.ledger(), " belongs to shard ", owner,
                   " of ", count_, ", this is shard ", index_,
                   ": the caller's shard list (--metadata_target or "
                   "--blockstore_target) does not match this deployment's shards"));
}

absl::StatusOr<LedgerRef> ShardOwnership::ParseOwned(absl::string_view tenant,
                                                     absl::string_view ledger,
                                                     absl::string_view tenant_field,
                                                     absl::string_view ledger_field) const {
  absl::StatusOr<LedgerRef> ref = LedgerRef::Parse(tenant, ledger, tenant_field, ledger_field);
  if (!ref.ok()) return ref.status();
  if (absl::Status owned = Check(*ref); !owned.ok()) return owned;
  return ref;
}

absl::StatusOr<std::vector<std::string>> ParseShardList(absl::string_view spec,
                                                        absl::string_view flag) {
  std::vector<std::string> targets;
  absl::flat_hash_set<std::string> seen;
  if (absl::StripAsciiWhitespace(spec).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag,
                                                   " is empty: give one gRPC target "
                                                   "per shard, separated by commas"));
  }
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    std::string target(absl::StripAsciiWhitespace(part));
    if (target.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " has an empty entry in \"", spec, "\""));
    }
    if (!seen.insert(target).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " lists shard ", target, " twice"));
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

std::shared_ptr<grpc::Channel> NewPeerChannel(const std::string& target, bool round_robin) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  if (round_robin) args.SetLoadBalancingPolicyName("round_robin");
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<ShardedChannels> ShardedChannels::Create(absl::string_view spec,
                                                        absl::string_view flag) {
  for (absl::string_view scheme : {"dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(spec, scheme)) {
      std::string target(spec);
      return ShardedChannels({NewPeerChannel(target, /*round_robin=*/true)}, {target});
    }
  }
  absl::StatusOr<std::vector<std::string>> targets = ParseShardList(spec, flag);
  if (!targets.ok()) return targets.status();
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const std::string& t : *targets) channels.push_back(NewPeerChannel(t));
  return ShardedChannels(std::move(channels), *std::move(targets));
}

ShardedChannels::ShardedChannels(std::vector<std::shared_ptr<grpc::Channel>> channels,
                                 std::vector<std::string> targets)
    : channels_(std::move(channels)), targets_(std::move(targets)) {
  targets_.resize(channels_.size());
}

}  // namespace kiln
