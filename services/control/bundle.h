// Ledger bundles: one self-contained, verifiable file holding everything of one ledger, for
// moving a ledger between deployments, backends and shard layouts (kiln-admin ledgers export /
// import, kiln-admin bundle verify).
//
// Format (version 1): a CARv1 file (https://ipld.io/specs/transport/car/carv1/). Its header names
// one root, a DAG-CBOR block describing the ledger:
//   {format: "kiln-ledger-bundle", formatVersion: 1, tenant, ledger, version, heads: [text],
//    counts: {blobs, entries, logRecords, keys},
//    blobs: [{store, key, size, cid}], entries: [cid], log: [cid], logHeadSha256: bytes,
//    keys: cid | null}
// followed by one block per part:
//   - every CAR/file blob as raw bytes (codec raw, sha2-256 of the stored bytes; the store key is
//     recorded in the root: CAR keys are CIDs of the *plaintext* and blobs are stored encrypted,
//     so the key cannot address the stored bytes);
//   - every meta entry as a DAG-CBOR map {cid, parents, data} exactly as metadata holds it;
//   - every record of the hash-chained log as its exact stored bytes (codec raw), so the chain
//     (each record's prev_sha256 over the previous record's bytes) survives the move;
//   - the gossiped keys, one raw block: a DAG-CBOR array of the key strings sealed with
//     AES-256-GCM (common/aead.h) under a 32-byte key the operator supplies, bound to
//     tenant and ledger.
// The root block comes first after the header, then the parts in the order above.
//
// Threading: pure functions on values; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/aead.h"

namespace kiln::control {

inline constexpr uint64_t kBundleFormatVersion = 1;
inline constexpr char kBundleFormatName[] = "kiln-ledger-bundle";

// kiln-control builds and reads a bundle in memory: export refuses a ledger whose blobs alone
// exceed this, and import a bundle file over it.
inline constexpr size_t kMaxBundleBytes = size_t{1} << 30;

// One stored blob: `store` is "car" or "file", `key` the block-store key.
struct BundleBlob {
  std::string store;
  std::string key;
  std::string bytes;
};

// One accepted meta entry as metadata holds it (see kiln.metadata.v1.MetaEntry).
struct BundleEntry {
  std::string cid;
  std::vector<std::string> parents;
  std::string data;
};

// Everything of one ledger.
struct LedgerBundle {
  std::string tenant;
  std::string ledger;
  uint64_t version = 0;
  std::vector<std::string> heads;
  std::vector<BundleBlob> blobs;
  std::vector<BundleEntry> entries;
  // The exact stored bytes of each log record (a serialized kiln.metadata.v1.LogRecord), from
  // seq 1 on, and the SHA-256 of the last one as metadata reported it.
  std::vector<std::string> log_records;
  std::string log_head_sha256;
  // The gossiped keys in plaintext. ReadBundle fills them only when given a KeySealer.
  std::vector<std::string> keys;
  // How many keys the bundle holds (filled by ReadBundle also without a KeySealer).
  uint64_t key_count = 0;
};

// The CARv1 bytes of `bundle`, keys sealed under `sealer`. UNAVAILABLE only as KeySealer::Seal.
absl::StatusOr<std::string> WriteBundle(const LedgerBundle& bundle, const KeySealer& sealer);

// Reads and verifies a bundle: the CAR framing, every block's CID against its bytes, that the
// root is a format-1 bundle description whose counts match, that every block the root names is
// present and no other block is, that each entry block is a well-formed entry, and that the log
// records parse and form an unbroken hash chain from seq 1 ending at logHeadSha256. With a
// `sealer` the keys are opened too (their block is checked by CID either way). Returns
// DATA_LOSS with a message naming the bad part ("blob car/<key> (block <cid>): ...", "log
// record 3 ...", "root block ...", "CAR section at byte N ...") for anything corrupt or
// tampered, and INVALID_ARGUMENT when the root names a format version other than 1.
absl::StatusOr<LedgerBundle> ReadBundle(absl::string_view file, const KeySealer* sealer);

}  // namespace kiln::control
