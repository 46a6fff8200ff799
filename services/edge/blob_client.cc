#include "services/edge/blob_client.h"

#include <atomic>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/sharded_calls.h"
#include "common/store_kind_proto.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"

namespace kiln::edge {
namespace {

namespace bv1 = ::kiln::blockstore::v1;

bv1::BlobRef RefOf(const BlobAddress& blob) {
  bv1::BlobRef ref;
  ref.set_tenant(blob.ledger.tenant());
  ref.set_ledger(blob.ledger.ledger());
  ref.set_store(ToProto(blob.store));
  ref.set_key(blob.key);
  return ref;
}

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// Keeps itself alive (self_) until gRPC calls OnDone.
class GrpcUpload : public BlobUpload, public grpc::ClientWriteReactor<bv1::PutRequest> {
 public:
  static std::shared_ptr<GrpcUpload> Start(bv1::BlockStoreService::Stub* stub,
                                           const BlobAddress& blob, uint64_t size,
                                           absl::Duration deadline) {
    std::shared_ptr<GrpcUpload> up(new GrpcUpload());
    up->self_ = up;
    up->context_.set_deadline(Deadline(deadline));
    *up->request_.mutable_ref() = RefOf(blob);
    up->request_.set_size(size);
    stub->async()->Put(&up->context_, &up->response_, up.get());
    up->AddHold();  // until Finish or Cancel
    up->StartCall();
    return up;
  }

  void Write(std::string chunk, std::function<void(bool)> done) override {
    if (!first_) request_.Clear();
    first_ = false;
    request_.set_data(std::move(chunk));
    write_done_ = std::move(done);
    StartWrite(&request_);
  }

  void Finish(std::function<void(absl::Status)> done) override {
    {
      absl::MutexLock lock(&mu_);
      finish_done_ = std::move(done);
    }
    if (first_) {
      // No chunk was written (an empty blob): send the header alone.
      first_ = false;
      StartWriteLast(&request_, grpc::WriteOptions());
    } else {
      StartWritesDone();
    }
    ReleaseHold();
  }

  void Cancel() override {
    context_.TryCancel();
    ReleaseHold();
  }

  void OnWriteDone(bool ok) override {
    auto done = std::move(write_done_);
    write_done_ = nullptr;
    if (done) done(ok);
  }

  void OnDone(const grpc::Status& status) override {
    std::function<void(absl::Status)> done;
    {
      absl::MutexLock lock(&mu_);
      done = std::move(finish_done_);
    }
    if (done) done(PeerError(status, "block-store"));
    self_.reset();  // may delete this
  }

 private:
  GrpcUpload() = default;
  void ReleaseHold() {
    if (!hold_released_.exchange(true)) RemoveHold();
  }
  std::atomic<bool> hold_released_{false};
  std::shared_ptr<GrpcUpload> self_;
  grpc::ClientContext context_;
  bv1::PutRequest request_;
  bv1::PutResponse response_;
  bool first_ = true;
  std::function<void(bool)> write_done_;
  absl::Mutex mu_;
  std::function<void(absl::Status)> finish_done_ ABSL_GUARDED_BY(mu_);
};

class GrpcDownload : public BlobDownload, public grpc::ClientReadReactor<bv1::GetResponse> {
 public:
  static std::shared_ptr<GrpcDownload> Start(bv1::BlockStoreService::Stub* stub,
                                             const BlobAddress& blob, absl::Duration deadline) {
    std::shared_ptr<GrpcDownload> down(new GrpcDownload());
    down->self_ = down;
    down->context_.set_deadline(Deadline(deadline));
    *down->request_.mutable_ref() = RefOf(blob);
    stub->async()->Get(&down->context_, &down->request_, down.get());
    // Without a hold gRPC may finish the call (and run OnDone) between two reads, before the
    // consumer has asked for the rest; the hold lasts until the last read has come back.
    down->AddHold();
    down->StartCall();
    return down;
  }

  void Next(std::function<void(absl::StatusOr<std::optional<Chunk>>)> done) override {
    {
      absl::MutexLock lock(&mu_);
      next_ = std::move(done);
      reading_ = true;
    }
    StartRead(&response_);
  }

  // Abandons the download. With no read pending, starts one so the call can wind down (its
  // failure releases the hold); a pending read fails by itself.
  void Cancel() override {
    context_.TryCancel();
    bool drain = false;
    {
      absl::MutexLock lock(&mu_);
      if (!reading_ && !ended_) {
        reading_ = true;
        next_ = nullptr;
        drain = true;
      }
    }
    if (drain) StartRead(&response_);
  }

  void OnReadDone(bool ok) override {
    std::function<void(absl::StatusOr<std::optional<Chunk>>)> done;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) ended_ = true;
      if (ok) done = std::move(next_);
    }
    if (!ok) {
      RemoveHold();  // OnDone now follows and reports the end or the error to the pending Next
      return;
    }
    if (!done) return;  // a drain read after Cancel
    Chunk chunk;
    chunk.data = std::move(*response_.mutable_data());
    chunk.total_size = response_.size();
    done(std::optional<Chunk>(std::move(chunk)));
  }

  void OnDone(const grpc::Status& status) override {
    std::function<void(absl::StatusOr<std::optional<Chunk>>)> done;
    {
      absl::MutexLock lock(&mu_);
      done = std::move(next_);
      next_ = nullptr;
    }
    if (done) {
      if (status.ok()) {
        done(std::optional<Chunk>());
      } else {
        done(PeerError(status, "block-store"));
      }
    }
    self_.reset();
  }

 private:
  GrpcDownload() = default;
  std::shared_ptr<GrpcDownload> self_;
  grpc::ClientContext context_;
  bv1::GetRequest request_;
  bv1::GetResponse response_;
  absl::Mutex mu_;
  std::function<void(absl::StatusOr<std::optional<Chunk>>)> next_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class GrpcBlobClient : public BlobClient {
 public:
  GrpcBlobClient(const ShardedChannels& shards, absl::Duration deadline)
      : calls_(shards, deadline, "block-store") {}

  std::shared_ptr<BlobUpload> Upload(const BlobAddress& blob, uint64_t size) override {
    return GrpcUpload::Start(calls_.StubFor(blob.ledger), blob, size, absl::Minutes(10));
  }

  std::shared_ptr<BlobDownload> Download(const BlobAddress& blob) override {
    return GrpcDownload::Start(calls_.StubFor(blob.ledger), blob, absl::Minutes(10));
  }

  void Stat(const BlobAddress& blob, Callback<std::optional<uint64_t>> done) override {
    bv1::BatchStatRequest request;
    request.set_tenant(blob.ledger.tenant());
    request.set_ledger(blob.ledger.ledger());
    request.set_store(ToProto(blob.store));
    request.add_keys(blob.key);
    calls_.Call(blob.ledger, &bv1::BlockStoreService::Stub::async::BatchStat, std::move(request),
                Callback<bv1::BatchStatResponse>(
                    [done = std::move(done)](absl::StatusOr<bv1::BatchStatResponse> r) mutable {
                      if (!r.ok()) return done(r.status());
                      if (r->stats_size() == 0 || !r->stats(0).found()) {
                        return done(std::optional<uint64_t>());
                      }
                      done(std::optional<uint64_t>(r->stats(0).size()));
                    }));
  }

  void Delete(const BlobAddress& blob, Callback<bool> done) override {
    bv1::DeleteRequest request;
    *request.mutable_ref() = RefOf(blob);
    calls_.Call(blob.ledger, &bv1::BlockStoreService::Stub::async::Delete, std::move(request),
                Callback<bv1::DeleteResponse>(
                    [done = std::move(done)](absl::StatusOr<bv1::DeleteResponse> r) mutable {
                      if (!r.ok()) return done(r.status());
                      done(true);
                    }));
  }

 private:
  // Uploads and downloads take their own longer deadline; Stat and Delete take the client's.
  ShardedCalls<bv1::BlockStoreService> calls_;
};

}  // namespace

std::unique_ptr<BlobClient> NewGrpcBlobClient(const ShardedChannels& blockstore,
                                              absl::Duration deadline) {
  return std::make_unique<GrpcBlobClient>(blockstore, deadline);
}

}  // namespace kiln::edge
