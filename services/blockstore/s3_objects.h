// Helpers shared by the s3:// backend's files (s3_backend.cc, s3_blob_streams.cc): request
// construction and reading kiln's digest from an object's metadata. Internal to the block-store.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/property_tree/ptree.hpp"
#include "common/http_client.h"
#include "common/s3_client.h"
#include "common/sha256.h"

namespace kiln::blockstore::s3_objects {

// The object metadata header that carries a blob's SHA-256 (lower-case hex).
inline constexpr absl::string_view kDigestHeader = "x-amz-meta-kiln-sha256";

S3Request Request(absl::string_view method, absl::string_view key,
                  std::vector<std::pair<std::string, std::string>> query = {});

std::string DigestHex(const Sha256Digest& d);

// The stored digest of a response; nullopt when the object carries none; DATA_LOSS when it is
// malformed.
absl::StatusOr<std::optional<Sha256Digest>> StoredDigest(const HttpResponse& response);

// Parses an XML response body; INTERNAL, naming `what`, when it is not XML.
absl::StatusOr<boost::property_tree::ptree> ParseXml(const std::string& body,
                                                     absl::string_view what);

}  // namespace kiln::blockstore::s3_objects
