// gRPC transport of the metadata service: validation, executor hand-off, status mapping, metrics,
// and the Watch streams. Callback API; storage calls run on the I/O executor, never in reactions.
#pragma once

#include <cstddef>

#include "common/executor.h"
#include "common/shards.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/metadata/ledger_store.h"
#include "services/metadata/log_follower.h"
#include "services/metadata/watch_hub.h"

namespace kiln::metadata {

struct MetadataServiceOptions {
  // Events queued for one watcher before it is cut off with RESOURCE_EXHAUSTED.
  size_t max_watch_queue = 1024;
  // Most log events replayed when a watcher resumes; further behind must restart from a snapshot.
  size_t max_watch_replay = 100000;
  // Most entries, heads or keys in one commit.
  int max_commit_items = 4096;
  // The ledgers this process serves (all when unsharded); others get FAILED_PRECONDITION.
  ShardOwnership shard;
};

class MetadataServiceImpl final : public v1::MetadataService::CallbackService {
 public:
  // `store`, `hub`, `executor` and `follower` are not owned and must outlive the service. With an
  // embedded backend (`follower` nullptr) the store's commit listener must publish into `hub`;
  // with a shared one it must call follower->OnLocalCommit, and the follower feeds `hub`.
  MetadataServiceImpl(const MetadataServiceOptions& options, LedgerStore& store, WatchHub& hub,
                      BoundedExecutor& executor, prometheus::Registry& registry,
                      LogFollower* follower = nullptr);

  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const v1::CommitRequest* request,
                                   v1::CommitResponse* response) override;
  grpc::ServerUnaryReactor* GetLedger(grpc::CallbackServerContext* context,
                                      const v1::GetLedgerRequest* request,
                                      v1::GetLedgerResponse* response) override;
  grpc::ServerUnaryReactor* ListLedgers(grpc::CallbackServerContext* context,
                                        const v1::ListLedgersRequest* request,
                                        v1::ListLedgersResponse* response) override;
  grpc::ServerUnaryReactor* ReadLog(grpc::CallbackServerContext* context,
                                    const v1::ReadLogRequest* request,
                                    v1::ReadLogResponse* response) override;
  grpc::ServerUnaryReactor* GetEntries(grpc::CallbackServerContext* context,
                                       const v1::GetEntriesRequest* request,
                                       v1::GetEntriesResponse* response) override;
  grpc::ServerUnaryReactor* ImportLedger(grpc::CallbackServerContext* context,
                                         const v1::ImportLedgerRequest* request,
                                         v1::ImportLedgerResponse* response) override;
  grpc::ServerUnaryReactor* CreateLedger(grpc::CallbackServerContext* context,
                                         const v1::CreateLedgerRequest* request,
                                         v1::CreateLedgerResponse* response) override;
  grpc::ServerUnaryReactor* DeleteLedger(grpc::CallbackServerContext* context,
                                         const v1::DeleteLedgerRequest* request,
                                         v1::DeleteLedgerResponse* response) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* context,
                                        const v1::ListTenantsRequest* request,
                                        v1::ListTenantsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(grpc::CallbackServerContext* context,
                                                  const v1::WatchRequest* request) override;

 private:
  class WatchReactor;
  // kiln::RunUnary (common/unary_reactor.h) with `context`'s default reactor on this service's
  // executor, logging storage failures; returns the reactor.
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, absl::Status valid,
                                     absl::AnyInvocable<absl::Status()> fn);
  // For a request that names one ledger: RunUnary of `fn` with the parsed `ledger`. Finishes
  // with the parse error when `ledger` holds one (INVALID_ARGUMENT, or FAILED_PRECONDITION for
  // another shard's ledger), else with `check` (the request's other limits) when that is not OK.
  grpc::ServerUnaryReactor* RunForLedger(grpc::CallbackServerContext* context,
                                         absl::StatusOr<LedgerRef> ledger, absl::Status check,
                                         absl::AnyInvocable<absl::Status(const LedgerRef&)> fn);

  const MetadataServiceOptions options_;
  LedgerStore& store_;
  WatchHub& hub_;
  BoundedExecutor& executor_;
  LogFollower* const follower_;
  prometheus::Counter* commits_ok_;
  prometheus::Counter* commits_aborted_;
  prometheus::Counter* commits_noop_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Gauge* watchers_;
  prometheus::Counter* watch_events_sent_;
  prometheus::Counter* watchers_cut_off_;
};

}  // namespace kiln::metadata
