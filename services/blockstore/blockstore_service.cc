#include "services/blockstore/blockstore_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "common/grpc_status.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/store_kind_proto.h"
#include "common/unary_reactor.h"
#include "common/unlabelled_metrics.h"
#include "glog/logging.h"
#include "services/blockstore/car_upload_check.h"

namespace kiln::blockstore {
namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr uint32_t kDefaultPageSize = 1000;
constexpr uint32_t kMaxPageSize = 10000;

absl::StatusOr<Store> ToStore(v1::Store store, absl::string_view field) {
  std::optional<Store> kind = StoreKindFromProto(store);
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be one of STORE_CAR, STORE_FILE, STORE_META, STORE_WAL"));
  }
  return *kind;
}

absl::Status ValidateKey(Store store, absl::string_view key, absl::string_view field) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " must not be empty"));
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", key.size(), " bytes; at most ", kMaxKeyBytes, " allowed"));
  }
  if (store == Store::kCar || store == Store::kFile) {
    absl::StatusOr<Cid> cid = ParseCid(key);
    if (!cid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " must be a CID string for car and file stores: ", cid.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BlobKey> ToBlobKey(const v1::BlobRef& ref, const ShardOwnership& shard) {
  BlobKey key;
  KILN_ASSIGN_OR_RETURN(key.ledger,
                        shard.ParseOwned(ref.tenant(), ref.ledger(), "ref.tenant", "ref.ledger"));
  KILN_ASSIGN_OR_RETURN(key.store, ToStore(ref.store(), "ref.store"));
  KILN_RETURN_IF_ERROR(ValidateKey(key.store, ref.key(), "ref.key"));
  key.key = ref.key();
  return key;
}

// The ledger and store a BatchStat or List request names.
struct LedgerStore {
  LedgerRef ledger;
  Store store = Store::kCar;
};

// INVALID_ARGUMENT or FAILED_PRECONDITION (ShardOwnership::ParseOwned) for the ledger, then
// INVALID_ARGUMENT for the store.
template <typename Request>
absl::StatusOr<LedgerStore> ToLedgerStore(const Request& request, const ShardOwnership& shard) {
  LedgerStore out;
  KILN_ASSIGN_OR_RETURN(out.ledger, shard.ParseOwned(request.tenant(), request.ledger()));
  KILN_ASSIGN_OR_RETURN(out.store, ToStore(request.store(), "store"));
  return out;
}

// INVALID_ARGUMENT for more than `max_keys` keys or a bad key, named by its index.
absl::Status ValidateKeys(Store store, const v1::BatchStatRequest& request, size_t max_keys) {
  if (static_cast<size_t>(request.keys_size()) > max_keys) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys has ", request.keys_size(), " entries; at most ", max_keys, " allowed"));
  }
  for (int i = 0; i < request.keys_size(); ++i) {
    KILN_RETURN_IF_ERROR(ValidateKey(store, request.keys(i), absl::StrCat("keys[", i, "]")));
  }
  return absl::OkStatus();
}

// Observes the elapsed time into a histogram when it goes out of scope.
class LatencyTimer {
 public:
  explicit LatencyTimer(prometheus::Histogram* h)
      : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~LatencyTimer() {
    h_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  prometheus::Histogram* h_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

// Put: hashes the streamed chunks as they arrive and hands them to the backend's BlobWriter in
// batches of its preferred size; each batch is written on the executor before the next chunk is
// read, so a put holds about one batch. The blob is committed on the executor once the client
// half-closes with exactly the declared byte count (and the digest, if given, matches).
class BlockStoreServiceImpl::PutReactor : public grpc::ServerReadReactor<v1::PutRequest> {
 public:
  PutReactor(BlockStoreServiceImpl* service, grpc::CallbackServerContext* context,
             v1::PutResponse* response)
      : service_(service), context_(context), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      EndOfStream();
      return;
    }
    if (!have_header_) {
      absl::Status s = TakeHeader();
      if (!s.ok()) {
        Finish(ToGrpcStatus(s));
        return;
      }
    }
    std::string* chunk = request_.mutable_data();
    if (received_ + chunk->size() > size_) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "stream carries more than the declared size of ", size_, " bytes; nothing stored"))));
      return;
    }
    received_ += chunk->size();
    hasher_.Update(*chunk);
    if (head_.size() < kCarEnvelopeProbeBytes) {
      head_.append(chunk->data(),
                   std::min<size_t>(chunk->size(), kCarEnvelopeProbeBytes - head_.size()));
    }
    if (pending_.empty()) {
      pending_ = std::move(*chunk);
    } else {
      pending_.append(*chunk);
    }
    request_.Clear();
    // The last batch goes with the commit, in the same executor task.
    if (received_ < size_ && !pending_.empty() &&
        pending_.size() >= writer_->preferred_write_bytes()) {
      absl::Status submitted = service_->executor_.TrySubmit([this] { WriteBatch(); });
      if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override {
    service_->inflight_put_bytes_.fetch_sub(reserved_);
    if (writer_ != nullptr) {
      // An uncommitted writer abandons its upload on destruction, which may touch the network:
      // not on a reactor thread (only when the executor refuses the task does it happen here).
      (void)service_->executor_.TrySubmit(
          [writer = std::move(writer_)]() mutable { writer.reset(); });
    }
    delete this;
  }

 private:
  absl::Status TakeHeader() {
    have_header_ = true;
    KILN_ASSIGN_OR_RETURN(key_, ToBlobKey(request_.ref(), service_->options_.shard));
    size_ = request_.size();
    if (size_ > service_->options_.max_blob_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("size is ", size_, " bytes; the limit is ",
                                                     service_->options_.max_blob_bytes));
    }
    if (!request_.sha256().empty() && request_.sha256().size() != 32) {
      return absl::InvalidArgumentError("sha256 must be 32 bytes when set");
    }
    expected_sha256_ = request_.sha256();
    KILN_ASSIGN_OR_RETURN(writer_, service_->backend_.NewWriter(key_, size_));
    // What this put holds in memory at once: about what its writer holds (one batch of the
    // writer's preferred size for a store that streams).
    reserved_ = std::min<uint64_t>(size_, writer_->held_bytes());
    uint64_t before = service_->inflight_put_bytes_.fetch_add(reserved_);
    if (before + reserved_ > service_->options_.max_inflight_put_bytes) {
      return absl::ResourceExhaustedError(
          "too many bytes of unfinished puts in flight on this server; retry later");
    }
    return absl::OkStatus();
  }

  // On the executor: passes the gathered batch to the writer, then reads on.
  void WriteBatch() {
    absl::Status s = writer_->Write(std::exchange(pending_, std::string()));
    if (!s.ok()) {
      service_->NoteStatus(s);
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&request_);
  }

  void EndOfStream() {
    if (!have_header_) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError("put stream carried no message")));
      return;
    }
    if (context_->IsCancelled()) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "put stream cancelled; nothing stored"));
      return;
    }
    if (received_ != size_) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("stream ended after ", received_,
                                                                  " of the declared ", size_,
                                                                  " bytes; nothing stored"))));
      return;
    }
    if (key_.store == Store::kCar) {
      absl::Status car = CheckCarUpload(head_, size_);
      if (!car.ok()) {
        Finish(ToGrpcStatus(car));
        return;
      }
    }
    digest_ = hasher_.Finish();
    if (!expected_sha256_.empty() && expected_sha256_ != DigestBytes(digest_)) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(
          "the bytes received do not match the sha256 in the request; nothing stored")));
      return;
    }
    absl::Status submitted = service_->executor_.TrySubmit([this] { Store(); });
    if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
  }

  // On the executor: writes the last batch and commits the blob.
  void Store() {
    absl::StatusOr<PutOutcome> outcome;
    {
      LatencyTimer timer(service_->m_.latency_put);
      absl::Status written = absl::OkStatus();
      if (!pending_.empty() || received_ == 0) {
        written = writer_->Write(std::exchange(pending_, std::string()));
      }
      outcome = written.ok() ? writer_->Commit(digest_) : absl::StatusOr<PutOutcome>(written);
    }
    writer_.reset();  // committed or failed: release it here, not on a reactor thread
    if (!outcome.ok()) {
      service_->NoteStatus(outcome.status());
      Finish(ToGrpcStatus(outcome.status()));
      return;
    }
    if (*outcome == PutOutcome::kCreated) {
      service_->m_.blobs_written->Increment();
      service_->m_.bytes_written->Increment(static_cast<double>(size_));
    }
    response_->set_size(size_);
    response_->set_sha256(DigestBytes(digest_));
    response_->set_created(*outcome == PutOutcome::kCreated);
    Finish(grpc::Status::OK);
  }

  BlockStoreServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  v1::PutResponse* response_;
  v1::PutRequest request_;
  bool have_header_ = false;
  BlobKey key_;
  uint64_t size_ = 0;
  uint64_t received_ = 0;
  uint64_t reserved_ = 0;
  std::string expected_sha256_;
  std::unique_ptr<BlobWriter> writer_;
  std::string pending_;  // received bytes not yet passed to the writer
  std::string head_;     // the first kCarEnvelopeProbeBytes bytes, for CheckCarUpload
  Sha256Hasher hasher_;
  Sha256Digest digest_{};
};

// Get: opens a reader on the executor and streams its windows in chunks; each chunk is written
// from OnWriteDone (at most one chunk copy in flight), and the next window is read on the executor
// once the current one is sent, so a get holds about one window.
class BlockStoreServiceImpl::GetReactor : public grpc::ServerWriteReactor<v1::GetResponse> {
 public:
  GetReactor(BlockStoreServiceImpl* service, const v1::GetRequest* request) : service_(service) {
    absl::StatusOr<BlobKey> key = ToBlobKey(request->ref(), service_->options_.shard);
    if (!key.ok()) {
      Finish(ToGrpcStatus(key.status()));
      return;
    }
    absl::Status submitted =
        service_->executor_.TrySubmit([this, key = *std::move(key)] { Open(key); });
    if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client stopped reading"));
      return;
    }
    if (offset_ < window_.size()) {
      WriteNext();
      return;
    }
    if (sent_ >= reader_->info().size) {
      service_->m_.blobs_read->Increment();
      service_->m_.bytes_read->Increment(static_cast<double>(sent_));
      Finish(grpc::Status::OK);
      return;
    }
    absl::Status submitted = service_->executor_.TrySubmit([this] { ReadWindow(); });
    if (!submitted.ok()) Finish(ToGrpcStatus(submitted));
  }

  void OnDone() override {
    if (reader_ != nullptr) {
      // Release the reader (and any connection it holds) off the reactor thread.
      (void)service_->executor_.TrySubmit(
          [reader = std::move(reader_)]() mutable { reader.reset(); });
    }
    delete this;
  }

 private:
  // On the executor. Opens the reader and reads its first window (both timed).
  void Open(const BlobKey& key) {
    absl::StatusOr<std::unique_ptr<BlobReader>> reader;
    absl::StatusOr<absl::string_view> first = absl::string_view();
    {
      // Scoped: once a window is sent, the call may finish and the service go away at shutdown.
      LatencyTimer timer(service_->m_.latency_get);
      reader = service_->backend_.NewReader(key);
      if (reader.ok()) first = (*reader)->Read();
    }
    if (!reader.ok()) {
      service_->NoteStatus(reader.status());
      Finish(ToGrpcStatus(reader.status()));
      return;
    }
    reader_ = *std::move(reader);
    response_.set_size(reader_->info().size);
    response_.set_sha256(DigestBytes(reader_->info().sha256));
    SendWindow(std::move(first));
  }

  // On the executor.
  void ReadWindow() { SendWindow(reader_->Read()); }

  void SendWindow(absl::StatusOr<absl::string_view> window) {
    if (!window.ok()) {
      service_->NoteStatus(window.status());
      Finish(ToGrpcStatus(window.status()));
      return;
    }
    window_ = *window;
    offset_ = 0;
    if (window_.empty() && sent_ < reader_->info().size) {
      Finish(ToGrpcStatus(absl::InternalError("the stored blob ended before its size")));
      return;
    }
    WriteNext();
  }

  void WriteNext() {
    if (sent_ > 0) {
      // Only the first message carries size and digest. The previous write has completed, so
      // the message may be changed now.
      response_.clear_size();
      response_.clear_sha256();
    }
    size_t n = std::min(service_->options_.get_chunk_bytes, window_.size() - offset_);
    response_.set_data(window_.data() + offset_, n);
    offset_ += n;
    sent_ += n;
    StartWrite(&response_);
  }

  BlockStoreServiceImpl* service_;
  std::unique_ptr<BlobReader> reader_;
  absl::string_view window_;  // the reader's current window
  size_t offset_ = 0;         // bytes of window_ sent
  uint64_t sent_ = 0;         // bytes of the blob sent
  v1::GetResponse response_;
};

BlockStoreServiceImpl::BlockStoreServiceImpl(const BlockStoreServiceOptions& options,
                                             BlockBackend& backend, BoundedExecutor& executor,
                                             prometheus::Registry& registry)
    : options_(options), backend_(backend), executor_(executor) {
  auto counter = [&](const char* name, const char* help) {
    return &UnlabelledCounter(registry, name, help);
  };
  m_.blobs_written = counter("kiln_blockstore_blobs_written_total", "Blobs newly stored.");
  m_.bytes_written = counter("kiln_blockstore_written_bytes_total", "Bytes of newly stored blobs.");
  m_.blobs_read = counter("kiln_blockstore_blobs_read_total", "Blobs served in full by Get.");
  m_.bytes_read = counter("kiln_blockstore_read_bytes_total", "Bytes served by Get.");
  m_.integrity_failures =
      counter("kiln_blockstore_integrity_failures_total",
              "Reads that found stored bytes not matching their digest (DATA_LOSS).");
  auto& latency = prometheus::BuildHistogram()
                      .Name("kiln_blockstore_backend_latency_seconds")
                      .Help("Time spent in backend calls, by operation.")
                      .Register(registry);
  prometheus::Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  m_.latency_put = &latency.Add({{"op", "put"}}, buckets);
  m_.latency_get = &latency.Add({{"op", "get"}}, buckets);
  m_.latency_stat = &latency.Add({{"op", "batch_stat"}}, buckets);
  m_.latency_delete = &latency.Add({{"op", "delete"}}, buckets);
  m_.latency_list = &latency.Add({{"op", "list"}}, buckets);
}

void BlockStoreServiceImpl::NoteStatus(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDataLoss) {
    m_.integrity_failures->Increment();
    LOG(ERROR) << "integrity failure: " << status.message();
  } else if (status.code() == absl::StatusCode::kInternal ||
             status.code() == absl::StatusCode::kUnavailable) {
    LOG(ERROR) << "backend failure: " << status.message();
  }
}

grpc::ServerUnaryReactor* BlockStoreServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                          absl::Status valid,
                                                          absl::AnyInvocable<absl::Status()> fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  kiln::RunUnary(executor_, reactor, std::move(valid), std::move(fn),
                 [this](const absl::Status& s) { NoteStatus(s); });
  return reactor;
}

grpc::ServerReadReactor<v1::PutRequest>* BlockStoreServiceImpl::Put(
    grpc::CallbackServerContext* context, v1::PutResponse* response) {
  return new PutReactor(this, context, response);
}

grpc::ServerWriteReactor<v1::GetResponse>* BlockStoreServiceImpl::Get(
    grpc::CallbackServerContext* /*context*/, const v1::GetRequest* request) {
  return new GetReactor(this, request);
}

grpc::ServerUnaryReactor* BlockStoreServiceImpl::BatchStat(grpc::CallbackServerContext* context,
                                                           const v1::BatchStatRequest* request,
                                                           v1::BatchStatResponse* response) {
  absl::StatusOr<LedgerStore> where = ToLedgerStore(*request, options_.shard);
  absl::Status valid = where.status();
  if (valid.ok()) valid = ValidateKeys(where->store, *request, options_.max_batch_keys);
  // `where` moves into the work, which runs only when `valid` is OK.
  return RunUnary(context, std::move(valid),
                  [this, where = std::move(where), request, response]() -> absl::Status {
                    std::vector<std::string> keys(request->keys().begin(), request->keys().end());
                    absl::StatusOr<std::vector<std::optional<BlobInfo>>> stats;
                    {
                      LatencyTimer timer(m_.latency_stat);
                      stats = backend_.BatchStat(where->ledger, where->store, keys);
                    }
                    if (!stats.ok()) return stats.status();
                    for (size_t i = 0; i < keys.size(); ++i) {
                      v1::BlobStat* out = response->add_stats();
                      out->set_key(keys[i]);
                      const std::optional<BlobInfo>& info = (*stats)[i];
                      out->set_found(info.has_value());
                      if (info.has_value()) {
                        out->set_size(info->size);
                        out->set_sha256(DigestBytes(info->sha256));
                      }
                    }
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* BlockStoreServiceImpl::Delete(grpc::CallbackServerContext* context,
                                                        const v1::DeleteRequest* request,
                                                        v1::DeleteResponse* /*response*/) {
  absl::StatusOr<BlobKey> key = ToBlobKey(request->ref(), options_.shard);
  absl::Status valid = key.status();
  return RunUnary(context, std::move(valid), [this, key = std::move(key)]() {
    LatencyTimer timer(m_.latency_delete);
    return backend_.Delete(*key);
  });
}

grpc::ServerUnaryReactor* BlockStoreServiceImpl::List(grpc::CallbackServerContext* context,
                                                      const v1::ListRequest* request,
                                                      v1::ListResponse* response) {
  absl::StatusOr<LedgerStore> where = ToLedgerStore(*request, options_.shard);
  absl::Status valid = where.status();
  return RunUnary(
      context, std::move(valid),
      [this, where = std::move(where), request, response]() -> absl::Status {
        uint32_t limit = request->page_size() == 0 ? kDefaultPageSize
                                                   : std::min(request->page_size(), kMaxPageSize);
        absl::StatusOr<ListPage> page;
        {
          LatencyTimer timer(m_.latency_list);
          page = backend_.List(where->ledger, where->store, request->page_token(), limit);
        }
        if (!page.ok()) return page.status();
        for (const auto& entry : page->entries) {
          v1::BlobStat* out = response->add_blobs();
          out->set_key(entry.key);
          out->set_found(true);
          out->set_size(entry.size);
        }
        if (page->more && !page->entries.empty()) {
          response->set_next_page_token(page->entries.back().key);
        }
        return absl::OkStatus();
      });
}

}  // namespace kiln::blockstore
