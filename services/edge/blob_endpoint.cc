#include "services/edge/blob_endpoint.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::edge {
namespace {

std::optional<BlobEndpoint::Method> MethodOf(absl::string_view method) {
  if (method == "PUT") return BlobEndpoint::Method::kPut;
  if (method == "GET") return BlobEndpoint::Method::kGet;
  if (method == "HEAD") return BlobEndpoint::Method::kHead;
  if (method == "DELETE") return BlobEndpoint::Method::kDelete;
  return std::nullopt;
}

}  // namespace

BlobEndpoint::BlobEndpoint(BlobClient& blobs, const UrlSigner& signer, const Clock& clock,
                           Options options)
    : blobs_(blobs), signer_(signer), clock_(clock), options_(options) {}

std::variant<BlobEndpoint::Request, HttpReply> BlobEndpoint::Open(absl::string_view method,
                                                                  absl::string_view target) const {
  std::optional<Method> m = MethodOf(method);
  if (!m.has_value()) return HttpReply{405, "blob URLs take PUT, GET, HEAD, DELETE"};
  absl::StatusOr<BlobAddress> blob = signer_.Verify(method, target, clock_.Now());
  if (!blob.ok()) return ReplyFor(blob.status());
  return Request{*m, *std::move(blob)};
}

std::variant<std::shared_ptr<BlobUpload>, HttpReply> BlobEndpoint::BeginUpload(
    const BlobAddress& blob, std::optional<uint64_t> content_length) const {
  if (!content_length.has_value()) return HttpReply{411, "blob uploads need a Content-Length"};
  if (*content_length > options_.max_blob_bytes) {
    return HttpReply{413, absl::StrCat("blob is ", *content_length, " bytes; the limit is ",
                                       options_.max_blob_bytes)};
  }
  return blobs_.Upload(blob, *content_length);
}

void BlobEndpoint::FinishUpload(BlobUpload& upload, const BlobAddress& blob,
                                std::function<void(HttpReply)> done) const {
  bool keep_first = blob.store == StoreKind::kCar || blob.store == StoreKind::kFile;
  upload.Finish([keep_first, done = std::move(done)](absl::Status s) {
    if (s.code() == absl::StatusCode::kAlreadyExists && keep_first) s = absl::OkStatus();
    done(ReplyFor(s));
  });
}

std::shared_ptr<BlobDownload> BlobEndpoint::BeginDownload(const BlobAddress& blob) const {
  return blobs_.Download(blob);
}

void BlobEndpoint::Head(const BlobAddress& blob,
                        std::function<void(std::variant<uint64_t, HttpReply>)> done) const {
  blobs_.Stat(blob, [done = std::move(done)](absl::StatusOr<std::optional<uint64_t>> r) {
    if (!r.ok()) return done(HttpReply{HttpStatusOf(r.status()), ""});
    if (!r->has_value()) return done(HttpReply{404, ""});
    done(**r);
  });
}

void BlobEndpoint::Delete(const BlobAddress& blob, std::function<void(HttpReply)> done) const {
  blobs_.Delete(blob, [done = std::move(done)](absl::StatusOr<bool> r) {
    done(r.ok() ? HttpReply{200, ""} : ReplyFor(r.status()));
  });
}

}  // namespace kiln::edge
