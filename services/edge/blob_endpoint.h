// The policy of the signed blob URLs (PUT|GET|HEAD|DELETE /blob/<tenant>/<ledger>/<store>/<key>
// ?exp=&sig=), over a BlobClient and a UrlSigner: which methods are taken, the signature check,
// the size limit, how verdicts map to HTTP replies, and the rule that a CAR or file uploaded again
// with other bytes keeps the first. The transport (http_session.h) only moves bytes: it streams
// an upload's body into the BlobUpload this hands out, and a download's chunks out.
//
// Threading: thread-safe (no state of its own beyond the options). Callbacks run on gRPC threads
// and must not block; the transport posts them back to its connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <variant>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "services/edge/blob_client.h"
#include "services/edge/http_reply.h"
#include "services/edge/signed_url.h"

namespace kiln::edge {

class BlobEndpoint {
 public:
  struct Options {
    uint64_t max_blob_bytes = 64ull << 20;
  };
  enum class Method { kPut, kGet, kHead, kDelete };
  // A blob request whose method and signature have been checked.
  struct Request {
    Method method;
    BlobAddress blob;
  };

  // The dependencies must outlive the endpoint.
  BlobEndpoint(BlobClient& blobs, const UrlSigner& signer, const Clock& clock, Options options);

  // Checks a request for `target` (path and query). The reply instead when it is refused: 405 for
  // a method other than PUT, GET, HEAD and DELETE; 403 for a bad, tampered or expired signature
  // (a GET signature also allows HEAD); 400 for a target that is not a blob URL.
  std::variant<Request, HttpReply> Open(absl::string_view method, absl::string_view target) const;

  // Starts a PUT of `content_length` bytes. The reply instead: 411 without a length, 413 above
  // max_blob_bytes.
  std::variant<std::shared_ptr<BlobUpload>, HttpReply> BeginUpload(
      const BlobAddress& blob, std::optional<uint64_t> content_length) const;

  // Ends an upload whose body was written (or whose stream broke) and gives the reply: 200; the
  // block-store's verdict otherwise (400 bad content, 409 a meta or wal key already written,
  // 503 unavailable). CAR and file keys are CIDs of the *plaintext*, so two clients with different
  // keys upload different ciphertexts of the same content: the first is kept and serves both
  // (every reader learns every writer's key through key gossip), and the second upload is 200.
  void FinishUpload(BlobUpload& upload, const BlobAddress& blob,
                    std::function<void(HttpReply)> done) const;

  // Starts a GET. The first chunk's error is answered with ReplyFor (404, 500 for DATA_LOSS,
  // 503); after the first byte is out, an error can only close the connection.
  std::shared_ptr<BlobDownload> BeginDownload(const BlobAddress& blob) const;

  // HEAD: `done` gets the blob's size, or the reply: 404 (empty body) when missing, the mapped
  // status (empty body) when the block-store fails.
  void Head(const BlobAddress& blob,
            std::function<void(std::variant<uint64_t, HttpReply>)> done) const;

  // DELETE: 200, 404 when missing, the mapped status otherwise.
  void Delete(const BlobAddress& blob, std::function<void(HttpReply)> done) const;

  uint64_t max_blob_bytes() const { return options_.max_blob_bytes; }

 private:
  BlobClient& blobs_;
  const UrlSigner& signer_;
  const Clock& clock_;
  const Options options_;
};

}  // namespace kiln::edge
