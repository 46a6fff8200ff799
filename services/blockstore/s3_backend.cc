#include "services/blockstore/s3_backend.h"

#include <functional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/property_tree/ptree.hpp"
#include "common/s3_blob_layout.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "prometheus/metric_family.h"
#include "services/blockstore/s3_blob_streams.h"
#include "services/blockstore/s3_objects.h"
#include "services/blockstore/stats_collectors.h"

namespace kiln::blockstore {
namespace {

using s3_objects::DigestHex;
using s3_objects::kDigestHeader;
using s3_objects::ParseXml;
using s3_objects::Request;
using s3_objects::StoredDigest;

class OwnedBlob : public Blob {
 public:
  OwnedBlob(std::string data, const Sha256Digest& digest) : data_(std::move(data)) {
    info_.size = data_.size();
    info_.sha256 = digest;
  }
  absl::string_view data() const override { return data_; }

 private:
  std::string data_;
};

// HEADs sent ahead of puts at once; more wait in the queue, beyond which a put HEADs at commit.
constexpr int kLookaheadThreads = 8;
constexpr size_t kLookaheadQueue = 64;

absl::StatusOr<PutOutcome> Compare(const BlobInfo& existing, uint64_t size,
                                   const Sha256Digest& digest) {
  if (existing.size == size && existing.sha256 == digest) return PutOutcome::kAlreadyPresent;
  return absl::AlreadyExistsError("the key already holds different bytes; the first blob is kept");
}

}  // namespace

S3BlockBackend::S3BlockBackend(S3BlockBackendOptions options)
    : options_(std::move(options)),
      client_(options_.client),
      lookahead_({.threads = kLookaheadThreads, .max_queued = kLookaheadQueue}) {}

std::string S3BlockBackend::StorePrefix(const LedgerRef& ledger, Store store) const {
  return S3StorePrefix(options_.prefix, ledger, store);
}

std::string S3BlockBackend::ObjectName(const BlobKey& key) const {
  return StorePrefix(key.ledger, key.store) + key.key;
}

size_t S3BlockBackend::WriteSlot(const std::string& object) const {
  static_assert(
      std::tuple_size_v<decltype(key_writes_)> % std::tuple_size_v<decltype(key_locks_)> == 0,
      "objects sharing a write slot must share a key lock");
  return std::hash<std::string>()(object) % key_writes_.size();
}

absl::StatusOr<std::optional<S3BlockBackend::ObjectInfo>> S3BlockBackend::Head(
    const std::string& object) {
  KILN_ASSIGN_OR_RETURN(HttpResponse response, client_.Send(Request("HEAD", object)));
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) return S3ResponseStatus(response, "HEAD of a blob");
  KILN_ASSIGN_OR_RETURN(std::optional<Sha256Digest> digest, StoredDigest(response));
  ObjectInfo object_info;
  object_info.verified = digest.has_value();
  if (digest.has_value()) object_info.info.sha256 = *digest;
  if (!absl::SimpleAtoi(response.Header("content-length"), &object_info.info.size)) {
    return absl::InternalError("HEAD of a blob: the object store sent no Content-Length");
  }
  return object_info;
}

absl::StatusOr<std::optional<BlobInfo>> S3BlockBackend::Stat(const std::string& object) {
  KILN_ASSIGN_OR_RETURN(std::optional<ObjectInfo> head, Head(object));
  if (!head.has_value() || (!head->verified && !options_.serve_unverified)) return std::nullopt;
  return head->info;
}

absl::StatusOr<PutOutcome> S3BlockBackend::Put(const BlobKey& key, absl::string_view data,
                                               const Sha256Digest& digest) {
  const std::string object = ObjectName(key);
  if (data.size() > options_.multipart_threshold) {
    MultipartWriter writer(*this, object, data.size());
    KILN_RETURN_IF_ERROR(writer.Append(data));
    return writer.Commit(digest);
  }
  return CommitObject(object, data.size(), digest, [&](bool create_only) {
    return PutSingle(object, data, digest, create_only);
  });
}

absl::StatusOr<PutOutcome> S3BlockBackend::CommitObject(
    const std::string& object, uint64_t size, const Sha256Digest& digest,
    absl::FunctionRef<absl::Status(bool create_only)> write, HeadAhead* ahead) {
  const size_t slot = WriteSlot(object);
  absl::MutexLock lock(&KeyLock(slot));
  std::optional<absl::StatusOr<std::optional<ObjectInfo>>> sent_ahead;
  if (ahead != nullptr) sent_ahead = ahead->Take(key_writes_[slot].load());
  // An object without the kiln digest is overwritten with a verified copy.
  KILN_ASSIGN_OR_RETURN(std::optional<ObjectInfo> existing,
                        sent_ahead.has_value() ? *std::move(sent_ahead) : Head(object));
  if (existing.has_value() && existing->verified) return Compare(existing->info, size, digest);
  // Only a new object is written conditionally: an unverified one is replaced on purpose.
  absl::Status put = write(/*create_only=*/!existing.has_value());
  // Counted even when it failed: the store may have taken it all the same.
  key_writes_[slot].fetch_add(1);
  if (put.code() == absl::StatusCode::kAborted) {
    // Another process created the object first (If-None-Match refused ours): compare with it.
    KILN_ASSIGN_OR_RETURN(existing, Head(object));
    if (existing.has_value() && existing->verified) return Compare(existing->info, size, digest);
    return absl::UnavailableError("a concurrent writer raced this put; retry it");
  }
  KILN_RETURN_IF_ERROR(put);
  return PutOutcome::kCreated;
}

std::shared_ptr<S3BlockBackend::HeadAhead> S3BlockBackend::SendHeadAhead(
    const std::string& object) {
  auto ahead = std::make_shared<HeadAhead>();
  absl::Status queued = lookahead_.TrySubmit([this, ahead, object] {
    if (!ahead->Start(key_writes_[WriteSlot(object)].load())) return;
    ahead->Finish(Head(object));
  });
  if (!queued.ok()) return nullptr;
  return ahead;
}

absl::Status S3BlockBackend::PutSingle(const std::string& object, absl::string_view data,
                                       const Sha256Digest& digest, bool create_only) {
  const std::string hex = DigestHex(digest);
  S3Request request = Request("PUT", object);
  request.headers = {{"content-type", "application/octet-stream"},
                     {std::string(kDigestHeader), hex}};
  if (create_only) request.headers.emplace_back("if-none-match", "*");
  request.body = data;
  request.body_sha256 = hex;
  KILN_ASSIGN_OR_RETURN(HttpResponse response, client_.Send(request));
  if (response.status == 412) return absl::AbortedError("object created concurrently");
  if (response.status != 200) return S3ResponseStatus(response, "PUT of a blob");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Blob>> S3BlockBackend::Get(const BlobKey& key) {
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, NewReader(key));
  if (reader->info().size > options_.max_object_bytes) {
    return absl::FailedPreconditionError(
        "the stored object is larger than this block-store reads whole (s3:// max_object_bytes)");
  }
  KILN_ASSIGN_OR_RETURN(std::string data, ReadAll(*reader));
  const Sha256Digest digest = reader->info().sha256;
  return std::unique_ptr<Blob>(new OwnedBlob(std::move(data), digest));
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> S3BlockBackend::BatchStat(
    const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) {
  const std::string prefix = StorePrefix(ledger, store);
  std::vector<std::optional<BlobInfo>> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) {
    KILN_ASSIGN_OR_RETURN(std::optional<BlobInfo> info, Stat(prefix + key));
    out.push_back(std::move(info));
  }
  return out;
}

absl::Status S3BlockBackend::Delete(const BlobKey& key) {
  const std::string object = ObjectName(key);
  const size_t slot = WriteSlot(object);
  absl::MutexLock lock(&KeyLock(slot));
  KILN_ASSIGN_OR_RETURN(std::optional<BlobInfo> existing, Stat(object));
  if (!existing.has_value()) return absl::NotFoundError("blob not found");
  absl::StatusOr<HttpResponse> deleted = client_.Send(Request("DELETE", object));
  key_writes_[slot].fetch_add(1);  // even on failure: the object may be gone
  KILN_ASSIGN_OR_RETURN(HttpResponse response, std::move(deleted));
  if (response.status != 204 && response.status != 200) {
    return S3ResponseStatus(response, "DELETE of a blob");
  }
  return absl::OkStatus();
}

absl::StatusOr<ListPage> S3BlockBackend::List(const LedgerRef& ledger, Store store,
                                              absl::string_view start_after, size_t limit) {
  const std::string prefix = StorePrefix(ledger, store);
  std::string after = start_after.empty() ? "" : prefix + std::string(start_after);
  ListPage page;
  // Ask for one entry more than the limit to learn whether more exist.
  const size_t want = limit + 1;
  bool truncated = true;
  while (truncated && page.entries.size() < want) {
    S3Request request = Request("GET", "");
    request.query = {
        {"list-type", "2"},
        {"prefix", prefix},
        {"max-keys", absl::StrCat(std::min<size_t>(1000, want - page.entries.size()))}};
    if (!after.empty()) request.query.emplace_back("start-after", after);
    KILN_ASSIGN_OR_RETURN(HttpResponse response, client_.Send(request));
    if (response.status != 200) return S3ResponseStatus(response, "listing blobs");
    KILN_ASSIGN_OR_RETURN(auto tree, ParseXml(response.body, "listing blobs"));
    const auto* result = tree.get_child_optional("ListBucketResult").get_ptr();
    if (result == nullptr) return absl::InternalError("listing blobs: no ListBucketResult");
    size_t before = page.entries.size();
    for (const auto& [name, child] : *result) {
      if (name != "Contents") continue;
      std::string object = child.get<std::string>("Key", "");
      if (object.size() <= prefix.size() || object.compare(0, prefix.size(), prefix) != 0) continue;
      uint64_t size = 0;
      if (!absl::SimpleAtoi(child.get<std::string>("Size", ""), &size)) {
        return absl::InternalError("listing blobs: an entry without a valid Size");
      }
      page.entries.push_back({object.substr(prefix.size()), size});
      after = object;
    }
    truncated = result->get<std::string>("IsTruncated", "false") == "true";
    if (page.entries.size() == before) break;  // no progress: do not loop on a confused store
  }
  if (page.entries.size() > limit) {
    page.entries.resize(limit);
    page.more = true;
  }
  return page;
}

std::shared_ptr<prometheus::Collectable> S3BlockBackend::StatsCollector() {
  auto own = [stats = client_.stats()] {
    return std::vector<prometheus::MetricFamily>{
        CounterFamily("kiln_blockstore_s3_requests_total",
                      "HTTP requests sent to the object store, retries included.",
                      static_cast<double>(stats->requests.load())),
        CounterFamily("kiln_blockstore_s3_retries_total",
                      "Requests repeated after a 5xx, 429 or transport failure.",
                      static_cast<double>(stats->retries.load())),
        CounterFamily("kiln_blockstore_s3_unavailable_total",
                      "Requests given up as UNAVAILABLE after all attempts.",
                      static_cast<double>(stats->unavailable.load()))};
  };
  return std::make_shared<CombinedCollector>(
      own, std::vector<std::shared_ptr<prometheus::Collectable>>{});
}

}  // namespace kiln::blockstore
