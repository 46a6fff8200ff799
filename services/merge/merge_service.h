// gRPC transport of the merge service: validates meta entries, hands them to the Committer
// (committer.h: batching per ledger, the CAR check, the head set and the compare-and-set retry
// loop), and answers with its verdict and the per-put metrics. Stateless; any number of replicas
// may serve one ledger.
//
// Threading: callback API. Each PutMeta is a chain of asynchronous peer calls; the work done in
// reactions is bounded CPU (decoding and hashing the request's entries), never I/O or waiting.
#pragma once

#include <array>
#include <cstddef>

#include "kiln/merge/v1/merge.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/merge/committer.h"
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

  const MergeServiceOptions options_;
  Committer committer_;
  std::array<prometheus::Counter*, 5> puts_;  // kiln_merge_puts_total by result
  prometheus::Histogram* put_seconds_;
};

}  // namespace kiln::merge
