// Live push across edges: for every ledger that at least one WebSocket connection on this edge
// has bound, one metadata Watch stream; each committed change is pushed as `eventGetMeta` to every
// bound connection (the writer's too, see followers.cc), with that receiver's own `conn`. Because
// every edge follows metadata, a put on any edge reaches connections on all edges.
//
// Threading: thread-safe. Watch callbacks run on gRPC threads and only queue pushes. A stream that
// ends (metadata restarting, watcher cut off) resumes after the last version seen, so a
// connection misses nothing and gets nothing twice.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/json/object.hpp"
#include "common/shards.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/edge/session.h"

namespace kiln::edge {

class LedgerFollowers {
 public:
  // Each ledger is watched on its metadata shard.
  LedgerFollowers(const ShardedChannels& metadata, prometheus::Registry& registry);
  ~LedgerFollowers();

  // Pushes later changes of (tenant, ledger) to `session`, shaped like `bind` (the client's
  // bindGetMeta message, reused for tid, auth, tenant and urlParam).
  void Follow(const std::string& tenant, const std::string& ledger,
              const std::shared_ptr<ClientSession>& session, boost::json::object bind);

  // Stops every push to `session` (call when its connection closes).
  void Unfollow(ClientSession* session);

  // Ledgers with an open Watch stream.
  size_t followed_ledgers() const;

 private:
  class Ledger;
  class WatchStream;

  ShardedStubs<metadata::v1::MetadataService> metadata_;
  prometheus::Counter* pushes_;
  mutable absl::Mutex mu_;
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;  // the destructor waits for them to end
  absl::flat_hash_map<std::string, std::shared_ptr<Ledger>> ledgers_ ABSL_GUARDED_BY(mu_);
  // Which ledgers each session follows, for Unfollow.
  absl::flat_hash_map<ClientSession*, std::vector<std::string>> by_session_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::edge
