#include "services/blockstore/s3_blob_streams.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/sigv4.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "services/blockstore/s3_objects.h"

namespace kiln::blockstore {
namespace {

// Largest error body read from the store (a 2xx body goes to a sink instead).
constexpr uint64_t kMaxErrorBodyBytes = 1 << 20;

using s3_objects::DigestHex;
using s3_objects::kDigestHeader;
using s3_objects::ParseXml;
using s3_objects::Request;
using s3_objects::StoredDigest;

// Gathers one window of an object into `window` and hashes its bytes as they arrive, so the
// digest is ready with the last byte instead of taking another pass over the window. A body
// longer than `max_bytes` is not read (skipped() when the headers announced it).
class HashingWindowSink : public HttpBodySink {
 public:
  HashingWindowSink(std::string& window, Sha256Hasher& hasher, uint64_t max_bytes)
      : window_(window), hasher_(hasher), max_bytes_(max_bytes) {
    window_.clear();  // keeps its capacity: the next window of the same size is not reallocated
  }

  bool OnHeaders(const HttpResponse& response) override {
    uint64_t length = 0;
    if (absl::SimpleAtoi(response.Header("content-length"), &length)) {
      if (length > max_bytes_) {
        skipped_ = true;
        return false;
      }
      window_.reserve(length);
    }
    return true;
  }

  bool OnBody(absl::string_view data) override {
    if (window_.size() + data.size() > max_bytes_) {
      overflowed_ = true;
      return false;
    }
    hasher_.Update(data);
    window_.append(data.data(), data.size());
    return true;
  }

  // The headers announced a body longer than `max_bytes`: nothing was read or hashed.
  bool skipped() const { return skipped_; }
  // More bytes arrived than `max_bytes` allows (the store's Content-Length was wrong).
  bool overflowed() const { return overflowed_; }

 private:
  std::string& window_;
  Sha256Hasher& hasher_;
  const uint64_t max_bytes_;
  bool skipped_ = false;
  bool overflowed_ = false;
};

}  // namespace

// --- MultipartWriter ----------------------------------------------------------------------------

S3BlockBackend::MultipartWriter::MultipartWriter(S3BlockBackend& backend, std::string object,
                                                 uint64_t size)
    : backend_(backend), object_(std::move(object)), size_(size) {}

S3BlockBackend::MultipartWriter::~MultipartWriter() {
  if (upload_id_.empty() || completed_) return;
  // Best effort: an upload left behind is invisible (and a bucket lifecycle rule reaps it).
  absl::StatusOr<HttpResponse> aborted =
      backend_.client_.Send(Request("DELETE", object_, {{"uploadId", upload_id_}}));
  if (!aborted.ok() || aborted->status != 204) {
    LOG(WARNING) << "could not abort an unfinished multipart upload; it stays invisible until "
                    "the bucket's lifecycle rule removes it";
  }
}

size_t S3BlockBackend::MultipartWriter::preferred_write_bytes() const {
  return static_cast<size_t>(backend_.options_.part_bytes);
}

absl::Status S3BlockBackend::MultipartWriter::Append(absl::string_view data) {
  const size_t part_bytes = static_cast<size_t>(backend_.options_.part_bytes);
  appended_ += data.size();
  while (!data.empty()) {
    if (part_.empty() && data.size() >= part_bytes) {
      // A whole part in the caller's buffer: send it from there.
      KILN_RETURN_IF_ERROR(UploadPart(data.substr(0, part_bytes)));
      data.remove_prefix(part_bytes);
      continue;
    }
    size_t take = std::min(data.size(), part_bytes - part_.size());
    if (part_.capacity() < part_bytes) part_.reserve(part_bytes);
    part_.append(data.data(), take);
    data.remove_prefix(take);
    if (part_.size() == part_bytes) {
      KILN_RETURN_IF_ERROR(UploadPart(part_));
      part_.clear();
    }
  }
  if (appended_ >= size_ && !part_.empty()) {
    KILN_RETURN_IF_ERROR(UploadPart(part_));
    std::string().swap(part_);
  }
  return absl::OkStatus();
}

absl::Status S3BlockBackend::MultipartWriter::UploadPart(absl::string_view part) {
  if (upload_id_.empty()) {
    S3Request create = Request("POST", object_, {{"uploads", ""}});
    create.headers = {{"content-type", "application/octet-stream"}};
    KILN_ASSIGN_OR_RETURN(HttpResponse created, backend_.client_.Send(create));
    if (created.status != 200) return S3ResponseStatus(created, "starting a multipart upload");
    KILN_ASSIGN_OR_RETURN(auto tree, ParseXml(created.body, "starting a multipart upload"));
    upload_id_ = tree.get<std::string>("InitiateMultipartUploadResult.UploadId", "");
    if (upload_id_.empty()) {
      return absl::InternalError("starting a multipart upload: the object store sent no UploadId");
    }
  }
  const int number = ++parts_;
  S3Request upload =
      Request("PUT", object_, {{"partNumber", absl::StrCat(number)}, {"uploadId", upload_id_}});
  upload.body = part;
  KILN_ASSIGN_OR_RETURN(HttpResponse uploaded, backend_.client_.Send(upload));
  if (uploaded.status != 200) return S3ResponseStatus(uploaded, "uploading a part");
  absl::StrAppend(&parts_xml_, "<Part><PartNumber>", number, "</PartNumber><ETag>",
                  uploaded.Header("etag"), "</ETag></Part>");
  return absl::OkStatus();
}

absl::StatusOr<PutOutcome> S3BlockBackend::MultipartWriter::Commit(const Sha256Digest& digest) {
  if (appended_ != size_ || upload_id_.empty()) {
    return absl::InternalError(
        absl::StrCat("multipart writer committed after ", appended_, " of ", size_, " bytes"));
  }
  return backend_.CommitObject(object_, size_, digest,
                               [&](bool create_only) { return Complete(create_only, digest); });
}

absl::Status S3BlockBackend::MultipartWriter::Complete(bool create_only,
                                                       const Sha256Digest& digest) {
  S3Request finish = Request("POST", object_, {{"uploadId", upload_id_}});
  finish.headers = {{"content-type", "application/xml"}};
  if (create_only) finish.headers.emplace_back("if-none-match", "*");
  const std::string body =
      absl::StrCat("<CompleteMultipartUpload>", parts_xml_, "</CompleteMultipartUpload>");
  finish.body = body;
  KILN_ASSIGN_OR_RETURN(HttpResponse done, backend_.client_.Send(finish));
  if (done.status == 412) return absl::AbortedError("object created concurrently");
  // S3 may answer 200 and still fail the completion in the body.
  if (done.status != 200 || !S3ErrorCode(done.body).empty()) {
    return S3ResponseStatus(done, "completing a multipart upload");
  }
  completed_ = true;
  KILN_ASSIGN_OR_RETURN(auto tree, ParseXml(done.body, "completing a multipart upload"));
  const std::string etag = tree.get<std::string>("CompleteMultipartUploadResult.ETag", "");

  // The digest is known only now: copy the object onto itself with it in the metadata. Until
  // this succeeds the object counts as unverified (absent, or served unchecked).
  S3Request copy = Request("PUT", object_);
  copy.headers = {
      {"content-type", "application/octet-stream"},
      {std::string(kDigestHeader), DigestHex(digest)},
      {"x-amz-copy-source",
       UriEncodePath(absl::StrCat("/", backend_.client_.location().bucket, "/", object_))},
      {"x-amz-metadata-directive", "REPLACE"}};
  if (!etag.empty()) copy.headers.emplace_back("x-amz-copy-source-if-match", etag);
  KILN_ASSIGN_OR_RETURN(HttpResponse copied, backend_.client_.Send(copy));
  // Like completion, a copy may fail with 200 and an error body.
  if (copied.status != 200 || !S3ErrorCode(copied.body).empty()) {
    return S3ResponseStatus(copied, "setting the digest of a completed multipart upload");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlobWriter>> S3BlockBackend::NewWriter(const BlobKey& key,
                                                                      uint64_t size) {
  if (size <= options_.multipart_threshold) {
    return std::unique_ptr<BlobWriter>(new SingleWriter(*this, ObjectName(key), size));
  }
  return std::unique_ptr<BlobWriter>(new MultipartWriter(*this, ObjectName(key), size));
}

// --- HeadAhead, SingleWriter --------------------------------------------------------------------

bool S3BlockBackend::HeadAhead::Start(uint64_t writes) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kCancelled) return false;
  state_ = State::kRunning;
  writes_ = writes;
  sent_ = absl::Now();
  return true;
}

void S3BlockBackend::HeadAhead::Finish(absl::StatusOr<std::optional<ObjectInfo>> result) {
  absl::MutexLock lock(&mu_);
  result_ = std::move(result);
  state_ = State::kDone;
}

std::optional<absl::StatusOr<std::optional<S3BlockBackend::ObjectInfo>>>
S3BlockBackend::HeadAhead::Take(uint64_t writes) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kQueued || state_ == State::kCancelled) {
    state_ = State::kCancelled;
    return std::nullopt;
  }
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kDone; };
  mu_.Await(absl::Condition(&done));
  state_ = State::kCancelled;  // taken once
  if (!result_.ok() || writes_ != writes || absl::Now() - sent_ > kMaxAge) return std::nullopt;
  return std::move(result_);
}

void S3BlockBackend::HeadAhead::Cancel() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kQueued) state_ = State::kCancelled;
}

S3BlockBackend::SingleWriter::SingleWriter(S3BlockBackend& backend, std::string object,
                                           uint64_t size)
    : backend_(backend), object_(std::move(object)), size_(size) {
  ahead_ = backend_.SendHeadAhead(object_);
}

S3BlockBackend::SingleWriter::~SingleWriter() {
  if (ahead_ != nullptr) ahead_->Cancel();
}

absl::Status S3BlockBackend::SingleWriter::Write(std::string data) {
  GatherBatch(data_, std::move(data), size_);
  return absl::OkStatus();
}

absl::StatusOr<PutOutcome> S3BlockBackend::SingleWriter::Commit(const Sha256Digest& digest) {
  absl::StatusOr<PutOutcome> outcome = backend_.CommitObject(
      object_, data_.size(), digest,
      [&](bool create_only) { return backend_.PutSingle(object_, data_, digest, create_only); },
      ahead_.get());
  std::string().swap(data_);
  return outcome;
}

// --- RangeReader --------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<BlobReader>> S3BlockBackend::RangeReader::Open(
    S3BlockBackend& backend, std::string object) {
  std::unique_ptr<RangeReader> reader(new RangeReader(backend, std::move(object)));
  // A plain GET that reads the object when it fits one window (the usual case: one request) and
  // otherwise stops after the headers (closing that connection); ranged GETs then read windows.
  // (Not a ranged first GET: s3rver answers a range of an empty object with a broken reply.)
  // The body is hashed as it arrives (even before the digest header is looked at: an object
  // without one is hashed too, below).
  S3Request get = Request("GET", reader->object_);
  get.max_response_bytes = kMaxErrorBodyBytes;  // a 2xx body goes to the sink, not this limit
  HashingWindowSink sink(reader->window_, reader->hasher_, backend.options_.part_bytes);
  get.sink = &sink;
  KILN_ASSIGN_OR_RETURN(HttpResponse first, backend.client_.Send(get));
  if (first.status == 404) return absl::NotFoundError("blob not found");
  if (first.status != 200) return S3ResponseStatus(first, "GET of a blob");
  if (sink.overflowed()) {
    return absl::InternalError("GET of a blob: the object store sent more than its Content-Length");
  }
  KILN_ASSIGN_OR_RETURN(std::optional<Sha256Digest> digest, StoredDigest(first));
  if (!digest.has_value() && !backend.options_.serve_unverified) {
    return absl::NotFoundError("blob not found (incomplete object)");
  }
  // A store that sends the body chunked, without a length, sent all of it (a longer body would
  // have overflowed the sink); only a skipped body needs the length, and the sink skips only on it.
  uint64_t total = reader->window_.size();
  if (uint64_t announced = 0; absl::SimpleAtoi(first.Header("content-length"), &announced)) {
    total = announced;
  }
  reader->etag_ = first.Header("etag");
  reader->info_.size = total;
  if (sink.skipped()) {
    KILN_RETURN_IF_ERROR(reader->Fetch(0, &reader->hasher_));
  } else if (reader->window_.size() != total) {
    return absl::UnavailableError("GET of a blob: the object store's answer was cut short");
  }
  if (reader->window_.size() == total) {
    // The whole blob: check it before any of it is returned.
    Sha256Digest computed = reader->hasher_.Finish();
    if (digest.has_value() && computed != *digest) {
      return absl::DataLossError("stored blob does not match its SHA-256; refusing to serve it");
    }
    reader->info_.sha256 = digest.value_or(computed);
  } else if (digest.has_value()) {
    reader->info_.sha256 = *digest;
  } else {
    // Uploaded straight to the store (no digest) and larger than a window: a first pass learns
    // the digest the reply must carry before any byte goes out; the second pass checks it again.
    KILN_RETURN_IF_ERROR(reader->ComputeDigest());
  }
  return std::unique_ptr<BlobReader>(std::move(reader));
}

absl::Status S3BlockBackend::RangeReader::Fetch(uint64_t offset, Sha256Hasher* hasher) {
  S3Request get = Request("GET", object_);
  const uint64_t length = std::min(backend_.options_.part_bytes, info_.size - offset);
  get.headers = {{"range", absl::StrCat("bytes=", offset, "-", offset + length - 1)}};
  if (!etag_.empty()) get.headers.emplace_back("if-match", etag_);
  get.max_response_bytes = kMaxErrorBodyBytes;
  HashingWindowSink sink(window_, *hasher, length);
  get.sink = &sink;
  KILN_ASSIGN_OR_RETURN(HttpResponse got, backend_.client_.Send(get));
  if (got.status == 412 || got.status == 404) {
    return absl::UnavailableError("the stored object changed while it was read; retry");
  }
  if (got.status != 206) return S3ResponseStatus(got, "ranged GET of a blob");
  if (sink.skipped() || sink.overflowed() || window_.size() != length) {
    return absl::InternalError("ranged GET of a blob: the object store sent the wrong length");
  }
  return absl::OkStatus();
}

absl::Status S3BlockBackend::RangeReader::ComputeDigest() {
  std::string first = window_;
  Sha256Hasher whole;
  whole.Update(first);
  for (uint64_t offset = first.size(); offset < info_.size; offset += window_.size()) {
    KILN_RETURN_IF_ERROR(Fetch(offset, &whole));
  }
  info_.sha256 = whole.Finish();
  window_ = std::move(first);
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> S3BlockBackend::RangeReader::Read() {
  if (first_pending_) {
    first_pending_ = false;
    next_ = window_.size();
    return absl::string_view(window_);
  }
  if (next_ >= info_.size) return absl::string_view();
  KILN_RETURN_IF_ERROR(Fetch(next_, &hasher_));
  next_ += window_.size();
  if (next_ == info_.size && hasher_.Finish() != info_.sha256) {
    return absl::DataLossError("stored blob does not match its SHA-256; refusing to serve it");
  }
  return absl::string_view(window_);
}

absl::StatusOr<std::unique_ptr<BlobReader>> S3BlockBackend::NewReader(const BlobKey& key) {
  return RangeReader::Open(*this, ObjectName(key));
}

}  // namespace kiln::blockstore
