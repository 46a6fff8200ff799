// gRPC transport of the merge service: validates meta entries, checks their CARs in the
// block-store, advances the head set and commits through metadata's compare-and-set, retrying
// when another writer got there first. Stateless; any number of replicas may serve one ledger.
//
// Batching: within one instance, puts to the same ledger form a queue; one batch per ledger is in
// flight at a time and carries every put that arrived meanwhile, with one block-store check, one
// ledger read and one commit. This removes compare-and-set contention between writers of a ledger
// on the same instance (instances still contend, and retry) and shares peer calls among puts.
//
// Threading: callback API. Each PutMeta is a chain of asynchronous peer calls; the work done in
// reactions is bounded CPU (decoding and hashing the request's entries), never I/O or waiting.
#pragma once

#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "kiln/merge/v1/merge.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/merge/peers.h"

namespace kiln::merge {

struct MergeServiceOptions {
  // Most entries in one PutMeta.
  int max_entries = 256;
  // Most keys in one PutMeta.
  int max_keys = 256;
  // Compare-and-set attempts before giving up with ABORTED.
  int max_commit_attempts = 32;
  // Most puts in one batch.
  size_t max_batch_puts = 64;
};

class MergeServiceImpl final : public v1::MergeService::CallbackService {
 public:
  // `blockstore` and `metadata` are not owned and must outlive the service.
  MergeServiceImpl(const MergeServiceOptions& options, BlockStoreClient& blockstore,
                   MetadataClient& metadata, prometheus::Registry& registry);

  grpc::ServerUnaryReactor* PutMeta(grpc::CallbackServerContext* context,
                                    const v1::PutMetaRequest* request,
                                    v1::PutMetaResponse* response) override;

 private:
  class PutMetaOp;
  class Batch;

  // Queues a validated put for its ledger; starts a batch when none is in flight.
  void Enqueue(PutMetaOp* op);
  // Called when a ledger's batch has finished: starts the next one or marks the ledger idle.
  void BatchDone(const std::string& ledger_key);
  // Takes up to max_batch_puts queued puts of the ledger; empty marks the ledger idle.
  std::vector<PutMetaOp*> TakeBatch(const std::string& ledger_key);

  const MergeServiceOptions options_;
  BlockStoreClient& blockstore_;
  MetadataClient& metadata_;
  prometheus::Family<prometheus::Counter>* puts_;
  prometheus::Counter* entries_accepted_;
  prometheus::Counter* commit_retries_;
  prometheus::Histogram* put_seconds_;
  prometheus::Histogram* batch_puts_;

  absl::Mutex mu_;
  // Per ledger with a batch in flight: the puts waiting for the next batch.
  absl::flat_hash_map<std::string, std::deque<PutMetaOp*>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::merge
