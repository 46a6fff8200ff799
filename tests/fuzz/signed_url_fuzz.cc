// Fuzz target: signed blob URLs (services/edge/signed_url.h). The first byte picks the method
// (PUT, GET, DELETE, HEAD) and the entry point:
//   - bit 2 clear: the rest is a request target ("/blob/t/l/car/k?exp=..&sig=..") for
//     UrlSigner::Verify, the parse every blob request goes through;
//   - bit 2 set: the rest is "tenant\nledger\nstore\nkey": the target signs that address and
//     verifies the URL it made.
// Properties: no crash; Verify fails only with INVALID_ARGUMENT or PERMISSION_DENIED; a URL the
// signer made verifies, for the same method, to exactly the address it was made for, whatever
// bytes the address holds (Sign percent-encodes every segment).
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "services/edge/signed_url.h"
#include "tests/fuzz/fuzz_check.h"

namespace kiln::fuzz {
namespace {

constexpr const char* kMethods[] = {"PUT", "GET", "DELETE", "HEAD"};
constexpr char kPublicBase[] = "http://127.0.0.1:8787/kiln";

const edge::UrlSigner& Signer() {
  static const auto* signer =
      new edge::UrlSigner(std::string(32, 'k'), kPublicBase, {std::string(32, 'p')});
  return *signer;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

void VerifyTarget(absl::string_view method, absl::string_view target) {
  absl::StatusOr<edge::BlobAddress> blob = Signer().Verify(method, target, kNow);
  if (!blob.ok()) {
    FUZZ_CHECK(blob.status().code() == absl::StatusCode::kInvalidArgument ||
               blob.status().code() == absl::StatusCode::kPermissionDenied);
  }
}

void SignAndVerify(absl::string_view method, absl::string_view fields) {
  std::vector<std::string> parts = absl::StrSplit(fields, absl::MaxSplits('\n', 3));
  parts.resize(4);
  // The store is a StoreKind: a name the input spells, else one picked by the field's length.
  const StoreKind store =
      StoreKindFromName(parts[2]).value_or(kAllStoreKinds[parts[2].size() % kAllStoreKinds.size()]);
  const edge::BlobAddress blob{LedgerRef(parts[0], parts[1]), store, parts[3]};
  const absl::string_view sign_method = method == "HEAD" ? "GET" : method;
  const std::string url = Signer().Sign(sign_method, blob, kNow + absl::Hours(1));
  const absl::string_view base = kPublicBase;
  FUZZ_CHECK(absl::string_view(url).substr(0, base.size()) == base);
  // The request target the edge sees: the path under the host, with the query.
  const absl::string_view target = absl::string_view(url).substr(base.size() - 5);
  absl::StatusOr<edge::BlobAddress> verified = Signer().Verify(method, target, kNow);
  FUZZ_CHECK(verified.ok());
  FUZZ_CHECK(verified->ledger == blob.ledger && verified->store == blob.store &&
             verified->key == blob.key);
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input = kiln::fuzz::AsText(data, size);
  const uint8_t selector = kiln::fuzz::TakeSelector(&input);
  const absl::string_view method = kiln::fuzz::kMethods[selector % 4];
  if (selector & 4) {
    kiln::fuzz::SignAndVerify(method, input);
  } else {
    kiln::fuzz::VerifyTarget(method, input);
  }
  return 0;
}
