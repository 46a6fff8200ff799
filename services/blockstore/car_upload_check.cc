#include "services/blockstore/car_upload_check.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/dag_cbor.h"

namespace kiln::blockstore {
namespace {

// The smallest CARv1: a one-byte varint, then the DAG-CBOR header {roots: [], version: 1}.
constexpr uint64_t kMinCarBytes = 18;
// AES-GCM appends a 16-byte tag to the ciphertext.
constexpr uint64_t kGcmTagBytes = 16;

// The plaintext length of a Fireproof encrypted block envelope, or -1 when `blob` is not one.
int64_t EnvelopePlaintextSize(absl::string_view blob) {
  absl::StatusOr<cbor::Value> v = cbor::DecodeDagCbor(blob);
  if (!v.ok()) return -1;
  const cbor::Value::MapEntries* map = v->AsMap();
  if (map == nullptr || map->size() != 3) return -1;
  const cbor::Value* iv = v->Find("iv");
  const cbor::Value* key_id = v->Find("keyId");
  const cbor::Value* data = v->Find("data");
  if (iv == nullptr || key_id == nullptr || data == nullptr || iv->AsBytes() == nullptr ||
      key_id->AsBytes() == nullptr || data->AsBytes() == nullptr) {
    return -1;
  }
  uint64_t n = data->AsBytes()->size();
  return n < kGcmTagBytes ? 0 : static_cast<int64_t>(n - kGcmTagBytes);
}

}  // namespace

absl::Status CheckCarUpload(absl::string_view head, uint64_t total_size) {
  if (total_size == 0) {
    return absl::InvalidArgumentError(
        "an empty upload cannot be a CAR (a CAR is at least 18 bytes); nothing stored");
  }
  if (total_size > kCarEnvelopeProbeBytes || head.size() != total_size) return absl::OkStatus();
  int64_t plaintext = EnvelopePlaintextSize(head);
  if (plaintext >= 0 && static_cast<uint64_t>(plaintext) < kMinCarBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "this CAR upload is an encrypted block of ", plaintext,
        " plaintext bytes, and a CAR is at least ", kMinCarBytes,
        " bytes: a client uploads this for a CAR it could not read; nothing stored, so the real "
        "CAR can still be uploaded under this key"));
  }
  return absl::OkStatus();
}

}  // namespace kiln::blockstore
