#include "services/blockstore/s3_objects.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "boost/property_tree/xml_parser.hpp"

namespace kiln::blockstore::s3_objects {

S3Request Request(absl::string_view method, absl::string_view key,
                  std::vector<std::pair<std::string, std::string>> query) {
  S3Request r;
  r.method = std::string(method);
  r.key = std::string(key);
  r.query = std::move(query);
  return r;
}

std::string DigestHex(const Sha256Digest& d) {
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

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

}  // namespace kiln::blockstore::s3_objects
