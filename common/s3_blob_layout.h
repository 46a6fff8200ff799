// Where Kiln keeps a blob in an S3 bucket: `<prefix>/<tenant>/<ledger>/<store>/<key>`, with '%'
// and '/' inside tenant and ledger written %25 and %2F so each stays one path segment. Shared by
// the block-store's s3:// backend (which writes the objects) and the edge (which presigns URLs to
// them), so both always agree. Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ledger_ref.h"
#include "common/store_kind.h"

namespace kiln {

// `id` with '%' and '/' escaped.
inline std::string S3PathSegment(absl::string_view id) {
  std::string out;
  out.reserve(id.size());
  for (char c : id) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The object-name prefix of one store (named by StoreKindName) of a ledger, ending in '/'.
// `prefix` has no slashes at either end and may be empty.
inline std::string S3StorePrefix(absl::string_view prefix, const LedgerRef& ledger,
                                 StoreKind store) {
  return absl::StrCat(prefix, prefix.empty() ? "" : "/", S3PathSegment(ledger.tenant()), "/",
                      S3PathSegment(ledger.ledger()), "/", StoreKindName(store), "/");
}

}  // namespace kiln
