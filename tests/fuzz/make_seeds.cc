// Writes the computed part of the fuzz seed corpora (tools/fuzz seeds runs it): real encodings
// made with Kiln's codecs, which the unit tests check byte for byte against the Fireproof client's
// (meta entries, DAG-CBOR events, CIDs), and URLs signed with the signed_url target's key. The
// hand-written seeds next to them (gen-* files are this program's, the others are not) are kept.
//
// Usage: fuzz_make_seeds <tests/fuzz/corpus>. Deterministic: rerunning rewrites identical files.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/cid.h"
#include "common/dag_cbor.h"
#include "common/meta_event.h"
#include "common/multibase.h"
#include "common/sha256.h"
#include "kiln/metadata/v1/metadata.pb.h"
#include "services/control/bundle.h"
#include "services/edge/signed_url.h"

namespace kiln::fuzz {
namespace {

namespace fs = std::filesystem;

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  // Writes corpus/<target>/gen-<name>: the selector byte (when >= 0), then `body`.
  void Write(const std::string& target, const std::string& name, const std::string& body,
             int selector = -1) {
    fs::create_directories(root_ / target);
    std::ofstream out(root_ / target / ("gen-" + name), std::ios::binary | std::ios::trunc);
    if (selector >= 0) out.put(static_cast<char>(selector));
    out << body;
    ++written_;
  }
  int written() const { return written_; }

 private:
  fs::path root_;
  int written_ = 0;
};

Cid Car(int i) { return CidForSha256(kCodecFireproofCar, absl::StrCat("car ", i)); }

std::string EventBytes(const EncodedMetaEntry& entry) { return *MultibaseDecode(entry.data); }

void MetaSeeds(Writer& w) {
  // A first commit, a commit on one parent, a merge of two heads with two CARs.
  const EncodedMetaEntry first = EncodeMetaEntry({Car(1)}, {});
  const Cid first_cid = *ParseCid(first.cid);
  const EncodedMetaEntry second = EncodeMetaEntry({Car(2)}, {first_cid});
  const EncodedMetaEntry other = EncodeMetaEntry({Car(3)}, {first_cid});
  const EncodedMetaEntry merge =
      EncodeMetaEntry({Car(4), Car(5)}, {*ParseCid(second.cid), *ParseCid(other.cid)});
  const std::vector<std::pair<std::string, EncodedMetaEntry>> entries = {
      {"first", first}, {"second", second}, {"merge", merge}};
  for (const auto& [name, e] : entries) {
    w.Write("meta_entry", "wire-" + name,
            absl::StrCat(e.cid, "\n", absl::StrJoin(e.parents, ","), "\n", e.data), 0);
    w.Write("meta_entry", "event-" + name, EventBytes(e), 1);
    w.Write("dag_cbor", "event-" + name, EventBytes(e));
  }
  // A few data model kinds the events do not use.
  w.Write(
      "dag_cbor", "kinds",
      cbor::EncodeDagCbor(cbor::Value::Array(
          {cbor::Value::Int(-1000000), cbor::Value::Float(-0.5),
           cbor::Value::Text("h\xc3\xa9llo \xe2\x98\x83"), cbor::Value(), cbor::Value::Bool(true),
           cbor::Value::Uint(~uint64_t{0}), cbor::Value::Bytes(std::string("\0\1\2", 3)),
           cbor::Value::Map({{"a", cbor::Value::Int(1)}, {"bb", cbor::Value::Link(Car(6))}})})));
}

void CidSeeds(Writer& w) {
  const Cid event = CidForSha256(kCodecDagCbor, "event");
  const Cid car = Car(7);
  const Cid v0 = *ParseCid("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n");
  // Selector 0: CID text; 1: binary CID; 2: binary CID with trailing block bytes; 3: multibase;
  // 4 + 5k: raw base32 (k=0), base58btc (1), base64 padded (2), base64 (3).
  w.Write("cid", "text-event-b32", event.ToString(), 0);
  w.Write("cid", "text-car-b32", car.ToString(), 0);
  w.Write("cid", "text-event-z", event.ToString(Multibase::kBase58Btc), 0);
  w.Write("cid", "text-event-M", event.ToString(Multibase::kBase64Pad), 0);
  w.Write("cid", "text-v0", v0.ToString(), 0);
  w.Write("cid", "binary-event", event.ToBytes(), 1);
  w.Write("cid", "binary-v0", v0.ToBytes(), 1);
  w.Write("cid", "section-car", car.ToBytes() + "block bytes", 2);
  w.Write("cid", "multibase-m", MultibaseEncode(Multibase::kBase64, "sixteen byte key"), 3);
  w.Write("cid", "multibase-z", MultibaseEncode(Multibase::kBase58Btc, std::string("\0\0key", 5)),
          3);
  w.Write("cid", "raw-b32", Base32Encode("hello"), 4);
  w.Write("cid", "raw-b58", Base58BtcEncode(std::string("\0hello", 6)), 4 + 5);
  w.Write("cid", "raw-b64pad", Base64Encode("hello", Base64Padding::kRequired), 4 + 10);
  w.Write("cid", "raw-b64", Base64Encode("hello!!", Base64Padding::kNone), 4 + 15);
}

void SignedUrlSeeds(Writer& w) {
  // The signed_url target's signer: secret 32 x 'k', base http://127.0.0.1:8787/kiln, now
  // 1700000000.
  const edge::UrlSigner signer(std::string(32, 'k'), "http://127.0.0.1:8787/kiln");
  const absl::Time expires = absl::FromUnixSeconds(1700000000) + absl::Hours(1);
  const edge::BlobAddress car{{"t1", "l1"}, StoreKind::kCar, Car(8).ToString()};
  const edge::BlobAddress file{
      {"tenant-a", "my-ledger"}, StoreKind::kFile, "z3WRJ5dPTqoVSGBYLnnjkS6v"};
  const std::string prefix = "http://127.0.0.1:8787";
  // Selector: method PUT 0, GET 1, DELETE 2, HEAD 3; +4 for sign-and-verify.
  w.Write("signed_url", "put-car", signer.Sign("PUT", car, expires).substr(prefix.size()), 0);
  w.Write("signed_url", "get-file", signer.Sign("GET", file, expires).substr(prefix.size()), 1);
  w.Write("signed_url", "head-file", signer.Sign("GET", file, expires).substr(prefix.size()), 3);
  w.Write("signed_url", "fields-car", absl::StrCat("t1\nl1\ncar\n", Car(8).ToString()), 4);
  w.Write("signed_url", "fields-odd", "t 1\nl/1\nwal\n%2e.?&=#", 4 + 2);
}

void ProtocolSeeds(Writer& w) {
  // A reqPutMeta as the Fireproof client sends it (tests/e2e/lib/entries.mjs, protocol doc 4).
  const EncodedMetaEntry e = EncodeMetaEntry({Car(9)}, {});
  w.Write(
      "protocol", "reqPutMeta",
      absl::StrCat(
          R"({"tid":"tid-put","type":"reqPutMeta","version":"FP-MSG-1.0",)",
          R"("auth":{"type":"fp-cloud-jwk","params":{"jwk":"dev"}},)",
          R"("conn":{"reqId":"req-1","resId":"res-1"},"tenant":{"tenant":"t1","ledger":"l1"},)",
          R"("methodParam":{"method":"PUT","store":"meta"},)",
          R"("urlParam":{"key":"main","store":"meta","tenant":"t1","ledger":"l1","name":"toCloud"},)",
          R"("meta":{"metas":[{"cid":")", e.cid, R"(","parents":[],"data":")", e.data,
          R"("}],"keys":["z3WRJ5dPTqoVSGBYLnnjkS6v"]}})"));
}

}  // namespace
}  // namespace kiln::fuzz

namespace kiln::fuzz {
namespace {

// Ledger bundles without keys (sealing draws a random IV, and seeds must be deterministic).
void BundleSeeds(Writer& w) {
  const KeySealer sealer = *KeySealer::Create(std::string(32, 'k'));
  control::LedgerBundle empty;
  empty.tenant = "t1";
  empty.ledger = "l1";
  w.Write("bundle", "empty", *control::WriteBundle(empty, sealer));
  control::LedgerBundle full = empty;
  full.version = 2;
  full.heads = {"bafyhead"};
  full.blobs = {{"car", "baembeicar", "car bytes"}, {"file", "bafkfile", "file bytes"}};
  full.entries = {{"bafyentry1", {}, "mAAAA"}, {"bafyentry2", {"bafyentry1"}, "mBBBB"}};
  std::string prev;
  for (uint64_t seq = 1; seq <= 2; ++seq) {
    metadata::v1::LogRecord r;
    r.set_seq(seq);
    r.set_prev_sha256(prev);
    r.add_entry_cids(absl::StrCat("bafyentry", seq));
    full.log_records.push_back(r.SerializeAsString());
    prev = DigestBytes(Sha256(full.log_records.back()));
  }
  full.log_head_sha256 = prev;
  w.Write("bundle", "ledger", *control::WriteBundle(full, sealer));
}

}  // namespace
}  // namespace kiln::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  kiln::fuzz::Writer w(argv[1]);
  kiln::fuzz::MetaSeeds(w);
  kiln::fuzz::CidSeeds(w);
  kiln::fuzz::SignedUrlSeeds(w);
  kiln::fuzz::ProtocolSeeds(w);
  kiln::fuzz::BundleSeeds(w);
  std::printf("wrote %d seed files under %s\n", w.written(), argv[1]);
  return 0;
}
