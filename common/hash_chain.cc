#include "common/hash_chain.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace kiln {

absl::Status VerifyHashChain(absl::Span<const ChainLink> links, absl::string_view first_prev_sha256,
                             absl::string_view expected_last_sha256) {
  if (links.empty()) return absl::OkStatus();
  if (!first_prev_sha256.empty() && links[0].prev_sha256 != first_prev_sha256) {
    return absl::DataLossError(
        absl::StrCat("log record ", links[0].seq,
                     " does not follow the record before it (previous-hash mismatch)"));
  }
  for (size_t i = 0; i < links.size(); ++i) {
    if (i + 1 < links.size() && links[i + 1].seq != links[i].seq + 1) {
      return absl::DataLossError(absl::StrCat("log record ", links[i + 1].seq, " follows record ",
                                              links[i].seq, ": sequence numbers not contiguous"));
    }
    std::string digest = DigestBytes(Sha256(links[i].bytes));
    bool last = i + 1 == links.size();
    absl::string_view expected = last ? expected_last_sha256 : links[i + 1].prev_sha256;
    if (last && expected.empty()) break;
    if (digest != expected) {
      return absl::DataLossError(absl::StrCat(
          "log record ", links[i].seq, " was altered: its SHA-256 does not match what ",
          last ? "the ledger head" : absl::StrCat("record ", links[i + 1].seq), " recorded"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln
