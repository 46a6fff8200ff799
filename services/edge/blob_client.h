// Streaming access to the block-store for the blob endpoint: uploads and downloads pass through
// in chunks, so a large blob is never held whole in the edge's memory. Callbacks run on gRPC
// threads and must not block (the HTTP layer posts them back to its connection's strand).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/async_call.h"
#include "common/shards.h"
#include "services/edge/signed_url.h"

namespace kiln::edge {

// One upload. Write chunks one at a time (wait for each `done`), then Finish.
class BlobUpload {
 public:
  virtual ~BlobUpload() = default;
  // `done(false)` means the stream broke; call Finish to learn why.
  virtual void Write(std::string chunk, std::function<void(bool)> done) = 0;
  // Ends the upload; `done` gets the block-store's verdict (INVALID_ARGUMENT, ALREADY_EXISTS...).
  virtual void Finish(std::function<void(absl::Status)> done) = 0;
  // Abandons the upload: the block-store stores nothing.
  virtual void Cancel() = 0;
};

// One download. Call Next repeatedly; the first chunk carries the total size.
class BlobDownload {
 public:
  struct Chunk {
    std::string data;
    uint64_t total_size = 0;  // set on the first chunk
  };
  virtual ~BlobDownload() = default;
  // Delivers the next chunk, nullopt at the end, or an error (NOT_FOUND, DATA_LOSS...).
  virtual void Next(std::function<void(absl::StatusOr<std::optional<Chunk>>)> done) = 0;
  virtual void Cancel() = 0;
};

class BlobClient {
 public:
  virtual ~BlobClient() = default;
  virtual std::shared_ptr<BlobUpload> Upload(const BlobAddress& blob, uint64_t size) = 0;
  virtual std::shared_ptr<BlobDownload> Download(const BlobAddress& blob) = 0;
  // The blob's size, or nullopt when missing.
  virtual void Stat(const BlobAddress& blob, Callback<std::optional<uint64_t>> done) = 0;
  // NOT_FOUND when missing.
  virtual void Delete(const BlobAddress& blob, Callback<bool> done) = 0;
};

// Each blob goes to the block-store shard of its (tenant, ledger).
std::unique_ptr<BlobClient> NewGrpcBlobClient(const ShardedChannels& blockstore,
                                              absl::Duration deadline);

}  // namespace kiln::edge
