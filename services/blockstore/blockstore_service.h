// gRPC transport of the block-store: validates requests, runs backend calls on the I/O executor,
// maps statuses and records kiln_blockstore_* metrics. Callback API; reactions never block: every
// backend call happens on `executor`, which then finishes the reactor.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/executor.h"
#include "common/shards.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

struct BlockStoreServiceOptions {
  // Largest blob accepted by Put, in bytes.
  uint64_t max_blob_bytes = 64ull << 20;
  // Bytes of unfinished Put streams held in memory at once (each put counts one batch of its
  // backend writer: the whole blob for backends that store whole blobs, one part on s3://);
  // beyond it puts get RESOURCE_EXHAUSTED.
  uint64_t max_inflight_put_bytes = 1ull << 30;
  // Most keys one BatchStat may ask about.
  size_t max_batch_keys = 1000;
  // The ledgers this process serves (all when unsharded); others get FAILED_PRECONDITION.
  ShardOwnership shard;
  // Size of the data chunks Get streams (64 KiB measured best: fewer large copies and page faults).
  size_t get_chunk_bytes = 64 << 10;
};

class BlockStoreServiceImpl final : public v1::BlockStoreService::CallbackService {
 public:
  // `backend` and `executor` are not owned and must outlive the service.
  BlockStoreServiceImpl(const BlockStoreServiceOptions& options, BlockBackend& backend,
                        BoundedExecutor& executor, prometheus::Registry& registry);

  grpc::ServerReadReactor<v1::PutRequest>* Put(grpc::CallbackServerContext* context,
                                               v1::PutResponse* response) override;
  grpc::ServerWriteReactor<v1::GetResponse>* Get(grpc::CallbackServerContext* context,
                                                 const v1::GetRequest* request) override;
  grpc::ServerUnaryReactor* BatchStat(grpc::CallbackServerContext* context,
                                      const v1::BatchStatRequest* request,
                                      v1::BatchStatResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;

 private:
  class PutReactor;
  class GetReactor;

  // Metric children, created once.
  struct Instruments {
    prometheus::Counter* blobs_written;
    prometheus::Counter* bytes_written;
    prometheus::Counter* blobs_read;
    prometheus::Counter* bytes_read;
    prometheus::Counter* integrity_failures;
    prometheus::Histogram* latency_put;
    prometheus::Histogram* latency_get;
    prometheus::Histogram* latency_stat;
    prometheus::Histogram* latency_delete;
    prometheus::Histogram* latency_list;
  };

  // kiln::RunUnary (common/unary_reactor.h) with `context`'s default reactor on this service's
  // executor, counting DATA_LOSS; returns that reactor.
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, absl::Status valid,
                                     absl::AnyInvocable<absl::Status()> fn);
  // Counts DATA_LOSS results.
  void NoteStatus(const absl::Status& status);

  const BlockStoreServiceOptions options_;
  BlockBackend& backend_;
  BoundedExecutor& executor_;
  Instruments m_;
  std::atomic<uint64_t> inflight_put_bytes_{0};
};

}  // namespace kiln::blockstore
