// Default BlobWriter and BlobReader for backends that store and read whole blobs.
#include "services/blockstore/block_backend.h"

#include <string>
#include <utility>

#include "common/status_macros.h"

namespace kiln::blockstore {
namespace {

// Gathers the blob in memory and stores it with one Put.
class BufferingWriter : public BlobWriter {
 public:
  BufferingWriter(BlockBackend& backend, BlobKey key, uint64_t size)
      : backend_(backend), key_(std::move(key)), size_(size) {}

  size_t preferred_write_bytes() const override { return static_cast<size_t>(size_); }

  absl::Status Write(std::string data) override {
    GatherBatch(data_, std::move(data), size_);
    return absl::OkStatus();
  }

  absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override {
    absl::StatusOr<PutOutcome> outcome = backend_.Put(key_, data_, digest);
    std::string().swap(data_);
    return outcome;
  }

 private:
  BlockBackend& backend_;
  const BlobKey key_;
  const uint64_t size_;
  std::string data_;
};

// Returns a whole blob read by Get as its one window.
class WholeBlobReader : public BlobReader {
 public:
  explicit WholeBlobReader(std::unique_ptr<Blob> blob) : blob_(std::move(blob)) {
    info_ = blob_->info();
  }

  absl::StatusOr<absl::string_view> Read() override {
    if (done_) return absl::string_view();
    done_ = true;
    return blob_->data();
  }

 private:
  std::unique_ptr<Blob> blob_;
  bool done_ = false;
};

}  // namespace

void GatherBatch(std::string& gathered, std::string batch, uint64_t size) {
  if (gathered.empty()) {
    gathered = std::move(batch);
    return;
  }
  if (gathered.capacity() < size) gathered.reserve(size);
  gathered.append(batch);
}

absl::StatusOr<std::string> ReadAll(BlobReader& reader) {
  std::string data;
  data.reserve(reader.info().size);
  for (;;) {
    KILN_ASSIGN_OR_RETURN(absl::string_view window, reader.Read());
    if (window.empty()) return data;
    data.append(window.data(), window.size());
  }
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlockBackend::NewWriter(const BlobKey& key,
                                                                    uint64_t size) {
  return std::unique_ptr<BlobWriter>(new BufferingWriter(*this, key, size));
}

absl::StatusOr<std::unique_ptr<BlobReader>> BlockBackend::NewReader(const BlobKey& key) {
  absl::StatusOr<std::unique_ptr<Blob>> blob = Get(key);
  if (!blob.ok()) return blob.status();
  return std::unique_ptr<BlobReader>(new WholeBlobReader(*std::move(blob)));
}

}  // namespace kiln::blockstore
