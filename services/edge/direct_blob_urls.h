// Direct blob URLs: with the block-store on an S3 bucket, the edge answers reqPutData, reqGetData
// and reqDelData with SigV4-presigned URLs for the object itself, so a client's blob bytes go to
// the object store and neither the edge nor the block-store carries them. The object names are
// the block-store's (common/s3_blob_layout.h). The store cannot check a presigned upload against
// its CID (clients encrypt; the CID names the plaintext): integrity of such blobs rests on the
// client (docs/operations.md). Thread-safe (immutable after construction; signing is pure).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/s3_client.h"
#include "services/edge/signed_url.h"

namespace kiln::edge {

class DirectBlobUrls {
 public:
  // From the block-store's s3:// backend URL (same bucket, prefix, endpoint and credentials; see
  // services/blockstore/backends.h). INVALID_ARGUMENT for a URL that is not a usable s3:// URL.
  static absl::StatusOr<std::unique_ptr<DirectBlobUrls>> FromBackendUrl(absl::string_view url);

  // A presigned URL for `method` ("PUT", "GET", "DELETE") on `blob`, valid for `lifetime` (at
  // most 7 days, S3's limit).
  std::string Sign(absl::string_view method, const BlobAddress& blob,
                   absl::Duration lifetime) const;

 private:
  DirectBlobUrls(S3ClientOptions options, std::string prefix);
  const std::string prefix_;
  S3Client client_;
};

}  // namespace kiln::edge
