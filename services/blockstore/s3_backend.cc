#include "services/blockstore/s3_backend.h"

#include <functional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/property_tree/ptree.hpp"
#include "boost/property_tree/xml_parser.hpp"
#include "common/s3_blob_layout.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "prometheus/metric_family.h"
#include "services/blockstore/stats_collectors.h"

namespace kiln::blockstore {
namespace {

constexpr absl::string_view kDigestHeader = "x-amz-meta-kiln-sha256";

S3Request Request(absl::string_view method, absl::string_view key,
                  std::vector<std::pair<std::string, std::string>> query = {}) {
  S3Request r;
  r.method = std::string(method);
  r.key = std::string(key);
  r.query = std::move(query);
  return r;
}

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

absl::string_view StoreName(Store store) {
  switch (store) {
    case Store::kCar:
      return "car";
    case Store::kFile:
      return "file";
    case Store::kMeta:
      return "meta";
    case Store::kWal:
      return "wal";
  }
  return "unknown";
}

std::string DigestHex(const Sha256Digest& d) {
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// The stored digest of a response; nullopt when the object carries none; DATA_LOSS when it is
// malformed.
absl::StatusOr<std::optional<Sha256Digest>> StoredDigest(const HttpResponse& response) {
  std::string hex = response.Header(kDigestHeader);
  if (hex.empty()) return std::nullopt;
  if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c));
      })) {
    return absl::DataLossError("stored object carries a malformed SHA-256; refusing to serve it");
  }
  std::string bytes = absl::HexStringToBytes(hex);
  Sha256Digest d;
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

absl::StatusOr<PutOutcome> Compare(const BlobInfo& existing, uint64_t size,
                                   const Sha256Digest& digest) {
  if (existing.size == size && existing.sha256 == digest) return PutOutcome::kAlreadyPresent;
  return absl::AlreadyExistsError("the key already holds different bytes; the first blob is kept");
}

// Parses an XML response body; INTERNAL when it is not XML.
absl::StatusOr<boost::property_tree::ptree> ParseXml(const std::string& body,
                                                     absl::string_view what) {
  try {
    std::istringstream in(body);
    boost::property_tree::ptree tree;
    boost::property_tree::read_xml(in, tree);
    return tree;
  } catch (const boost::property_tree::ptree_error&) {
    return absl::InternalError(absl::StrCat(what, ": the object store's answer is not XML"));
  }
}

}  // namespace

S3BlockBackend::S3BlockBackend(S3BlockBackendOptions options)
    : options_(std::move(options)), client_(options_.client) {}

std::string S3BlockBackend::StorePrefix(absl::string_view tenant, absl::string_view ledger,
                                        Store store) const {
  return S3StorePrefix(options_.prefix, tenant, ledger, StoreName(store));
}

std::string S3BlockBackend::ObjectName(const BlobKey& key) const {
  return StorePrefix(key.tenant, key.ledger, key.store) + key.key;
}

absl::Mutex& S3BlockBackend::KeyLock(const std::string& object) {
  return key_locks_[std::hash<std::string>()(object) % key_locks_.size()];
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
  absl::MutexLock lock(&KeyLock(object));
  // An object without the kiln digest is overwritten with a verified copy.
  KILN_ASSIGN_OR_RETURN(std::optional<ObjectInfo> existing, Head(object));
  if (existing.has_value() && existing->verified) {
    return Compare(existing->info, data.size(), digest);
  }
  // Only a new object is written conditionally: an unverified one is replaced on purpose.
  const bool create_only = !existing.has_value();
  absl::Status put = data.size() > options_.multipart_threshold
                         ? PutMultipart(object, data, digest, create_only)
                         : PutSingle(object, data, digest, create_only);
  if (put.code() == absl::StatusCode::kAborted) {
    // Another process created the object first (If-None-Match refused ours): compare with it.
    KILN_ASSIGN_OR_RETURN(existing, Head(object));
    if (existing.has_value() && existing->verified) {
      return Compare(existing->info, data.size(), digest);
    }
    return absl::UnavailableError("a concurrent writer raced this put; retry it");
  }
  KILN_RETURN_IF_ERROR(put);
  return PutOutcome::kCreated;
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

absl::Status S3BlockBackend::PutMultipart(const std::string& object, absl::string_view data,
                                          const Sha256Digest& digest, bool create_only) {
  S3Request create = Request("POST", object, {{"uploads", ""}});
  create.headers = {{"content-type", "application/octet-stream"},
                    {std::string(kDigestHeader), DigestHex(digest)}};
  KILN_ASSIGN_OR_RETURN(HttpResponse created, client_.Send(create));
  if (created.status != 200) return S3ResponseStatus(created, "starting a multipart upload");
  KILN_ASSIGN_OR_RETURN(auto tree, ParseXml(created.body, "starting a multipart upload"));
  const std::string upload_id = tree.get<std::string>("InitiateMultipartUploadResult.UploadId", "");
  if (upload_id.empty()) {
    return absl::InternalError("starting a multipart upload: the object store sent no UploadId");
  }
  absl::Status status = [&]() -> absl::Status {
    std::string complete = "<CompleteMultipartUpload>";
    int part = 1;
    for (uint64_t offset = 0; offset < data.size(); offset += options_.part_bytes, ++part) {
      absl::string_view slice = data.substr(offset, options_.part_bytes);
      S3Request upload =
          Request("PUT", object, {{"partNumber", absl::StrCat(part)}, {"uploadId", upload_id}});
      upload.body = slice;
      KILN_ASSIGN_OR_RETURN(HttpResponse uploaded, client_.Send(upload));
      if (uploaded.status != 200) return S3ResponseStatus(uploaded, "uploading a part");
      absl::StrAppend(&complete, "<Part><PartNumber>", part, "</PartNumber><ETag>",
                      uploaded.Header("etag"), "</ETag></Part>");
    }
    complete += "</CompleteMultipartUpload>";
    S3Request finish = Request("POST", object, {{"uploadId", upload_id}});
    finish.headers = {{"content-type", "application/xml"}};
    if (create_only) finish.headers.emplace_back("if-none-match", "*");
    finish.body = complete;
    KILN_ASSIGN_OR_RETURN(HttpResponse done, client_.Send(finish));
    if (done.status == 412) return absl::AbortedError("object created concurrently");
    // S3 may answer 200 and still fail the completion in the body.
    if (done.status != 200 || !S3ErrorCode(done.body).empty()) {
      return S3ResponseStatus(done, "completing a multipart upload");
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    // Best effort: an upload left behind is invisible (and a bucket lifecycle rule reaps it).
    absl::StatusOr<HttpResponse> aborted =
        client_.Send(Request("DELETE", object, {{"uploadId", upload_id}}));
    if (!aborted.ok() || aborted->status != 204) {
      LOG(WARNING) << "could not abort a failed multipart upload; it stays invisible until the "
                      "bucket's lifecycle rule removes it";
    }
  }
  return status;
}

absl::StatusOr<std::unique_ptr<Blob>> S3BlockBackend::Get(const BlobKey& key) {
  S3Request get = Request("GET", ObjectName(key));
  get.max_response_bytes = options_.max_object_bytes;
  absl::StatusOr<HttpResponse> got = client_.Send(get);
  if (got.status().code() == absl::StatusCode::kResourceExhausted) {
    return absl::FailedPreconditionError(
        "the stored object is larger than this block-store serves (s3:// max_object_bytes)");
  }
  KILN_ASSIGN_OR_RETURN(HttpResponse response, std::move(got));
  if (response.status == 404) return absl::NotFoundError("blob not found");
  if (response.status != 200) return S3ResponseStatus(response, "GET of a blob");
  KILN_ASSIGN_OR_RETURN(std::optional<Sha256Digest> digest, StoredDigest(response));
  if (!digest.has_value()) {
    if (!options_.serve_unverified)
      return absl::NotFoundError("blob not found (incomplete object)");
    // Uploaded straight to the store through a presigned URL: nothing to check against.
    Sha256Digest computed = Sha256(response.body);
    return std::unique_ptr<Blob>(new OwnedBlob(std::move(response.body), computed));
  }
  if (Sha256(response.body) != *digest) {
    return absl::DataLossError("stored blob does not match its SHA-256; refusing to serve it");
  }
  return std::unique_ptr<Blob>(new OwnedBlob(std::move(response.body), *digest));
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> S3BlockBackend::BatchStat(
    absl::string_view tenant, absl::string_view ledger, Store store,
    absl::Span<const std::string> keys) {
  const std::string prefix = StorePrefix(tenant, ledger, store);
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
  absl::MutexLock lock(&KeyLock(object));
  KILN_ASSIGN_OR_RETURN(std::optional<BlobInfo> existing, Stat(object));
  if (!existing.has_value()) return absl::NotFoundError("blob not found");
  KILN_ASSIGN_OR_RETURN(HttpResponse response, client_.Send(Request("DELETE", object)));
  if (response.status != 204 && response.status != 200) {
    return S3ResponseStatus(response, "DELETE of a blob");
  }
  return absl::OkStatus();
}

absl::StatusOr<ListPage> S3BlockBackend::List(absl::string_view tenant, absl::string_view ledger,
                                              Store store, absl::string_view start_after,
                                              size_t limit) {
  const std::string prefix = StorePrefix(tenant, ledger, store);
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
