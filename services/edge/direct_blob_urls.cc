#include "services/edge/direct_blob_urls.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/backend_url.h"
#include "common/s3_blob_layout.h"
#include "common/status_macros.h"

namespace kiln::edge {

absl::StatusOr<std::unique_ptr<DirectBlobUrls>> DirectBlobUrls::FromBackendUrl(
    absl::string_view url) {
  KILN_ASSIGN_OR_RETURN(BackendUrl parsed, ParseBackendUrl(url));
  if (parsed.scheme != "s3") {
    return absl::InvalidArgumentError(
        absl::StrCat("direct blob URLs need an s3:// URL; got ", parsed.scheme, "://"));
  }
  std::string prefix;
  KILN_ASSIGN_OR_RETURN(S3ClientOptions options, S3ClientOptionsFromUrl(parsed, &prefix));
  return std::unique_ptr<DirectBlobUrls>(new DirectBlobUrls(std::move(options), std::move(prefix)));
}

DirectBlobUrls::DirectBlobUrls(S3ClientOptions options, std::string prefix)
    : prefix_(std::move(prefix)), client_(std::move(options)) {}

std::string DirectBlobUrls::Sign(absl::string_view method, const BlobAddress& blob,
                                 absl::Duration lifetime) const {
  std::string object = S3StorePrefix(prefix_, blob.ledger, blob.store) + blob.key;
  return client_.PresignedUrl(method, object, std::min(lifetime, absl::Hours(24 * 7)));
}

}  // namespace kiln::edge
