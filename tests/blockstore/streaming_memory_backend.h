// A memory:// store that streams like s3://, for tests of what streams through a backend: its
// writers take `batch`-byte pieces and record what they were given, its readers return `window`
// bytes at a time; both can be told to fail. The counters and switches are atomic, so a test may
// read and set them while the service uses the store from its executor.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "services/blockstore/memory_backend.h"

namespace kiln::blockstore::testing {

class StreamingMemoryBackend : public MemoryBlockBackend {
 public:
  StreamingMemoryBackend(size_t batch, size_t window) : batch_(batch), window_(window) {}

  std::atomic<size_t> largest_write{0};  // the largest piece a writer was given
  std::atomic<int> writes{0};
  std::atomic<int> writers_abandoned{0};
  absl::Notification writer_abandoned;  // notified when the first writer goes without a commit
  std::atomic<int> windows_read{0};
  // Switches: readers fail DATA_LOSS instead of returning the last window; the n-th Write of each
  // writer fails UNAVAILABLE (0: none); Commit fails UNAVAILABLE.
  std::atomic<bool> corrupt_last_window{false};
  std::atomic<int> fail_write{0};
  std::atomic<bool> fail_commit{false};

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key,
                                                        uint64_t /*size*/) override {
    return std::unique_ptr<BlobWriter>(new Writer(*this, key));
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key) override {
    absl::StatusOr<std::unique_ptr<Blob>> blob = Get(key);
    if (!blob.ok()) return blob.status();
    return std::unique_ptr<BlobReader>(new Reader(*this, *std::move(blob)));
  }

 private:
  class Writer : public BlobWriter {
   public:
    Writer(StreamingMemoryBackend& backend, BlobKey key)
        : backend_(backend), key_(std::move(key)) {}
    ~Writer() override {
      if (committed_) return;
      if (backend_.writers_abandoned.fetch_add(1) == 0) backend_.writer_abandoned.Notify();
    }
    size_t preferred_write_bytes() const override { return backend_.batch_; }
    absl::Status Write(std::string data) override {
      if (++writes_ == backend_.fail_write.load()) {
        return absl::UnavailableError("injected: the store went away mid-write");
      }
      backend_.writes.fetch_add(1);
      size_t seen = backend_.largest_write.load();
      while (data.size() > seen &&
             !backend_.largest_write.compare_exchange_weak(seen, data.size())) {
      }
      data_ += data;
      return absl::OkStatus();
    }
    absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override {
      if (backend_.fail_commit.load()) {
        return absl::UnavailableError("injected: the store went away at the commit");
      }
      committed_ = true;
      return backend_.Put(key_, data_, digest);
    }

   private:
    StreamingMemoryBackend& backend_;
    BlobKey key_;
    std::string data_;
    int writes_ = 0;
    bool committed_ = false;
  };

  class Reader : public BlobReader {
   public:
    Reader(StreamingMemoryBackend& backend, std::unique_ptr<Blob> blob)
        : backend_(backend), blob_(std::move(blob)) {
      info_ = blob_->info();
    }
    absl::StatusOr<absl::string_view> Read() override {
      absl::string_view rest = blob_->data().substr(offset_);
      if (rest.empty()) return rest;
      absl::string_view window = rest.substr(0, backend_.window_);
      offset_ += window.size();
      if (offset_ == blob_->data().size() && backend_.corrupt_last_window.load()) {
        return absl::DataLossError("stored blob does not match its SHA-256");
      }
      backend_.windows_read.fetch_add(1);
      return window;
    }

   private:
    StreamingMemoryBackend& backend_;
    std::unique_ptr<Blob> blob_;
    size_t offset_ = 0;
  };

  const size_t batch_;
  const size_t window_;
};

}  // namespace kiln::blockstore::testing
