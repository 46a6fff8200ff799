// services/control/bundle.h: a written bundle reads back equal, and every kind of damage is
// refused with DATA_LOSS naming the damaged part.
#include "services/control/bundle.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::control {
namespace {

using ::testing::HasSubstr;

KeySealer Sealer(char fill) { return *KeySealer::Create(std::string(32, fill)); }

LedgerBundle SampleBundle() {
  LedgerBundle b;
  b.tenant = "t1";
  b.ledger = "l1";
  b.version = 3;
  b.heads = {"bafyhead"};
  b.blobs = {{"car", "baembeicar1", "encrypted car bytes"},
             {"file", "bafkfile1", std::string("file\0bytes", 10)},
             {"car", "baembeicar2", "encrypted car bytes"}};  // same bytes, other key
  b.entries = {{"bafyentry1", {}, "mAAAA"}, {"bafyentry2", {"bafyentry1"}, "mBBBB"}};
  std::string prev;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    metadata::v1::LogRecord r;
    r.set_seq(seq);
    r.set_prev_sha256(prev);
    r.add_entry_cids(absl::StrCat("bafyentry", seq));
    r.set_unix_micros(1000 * seq);
    std::string bytes = r.SerializeAsString();
    prev = DigestBytes(Sha256(bytes));
    b.log_records.push_back(bytes);
  }
  b.log_head_sha256 = prev;
  b.keys = {"z1key", "z2key"};
  return b;
}

// The offset of `needle` in `file`; fails the test when absent.
size_t Find(const std::string& file, const std::string& needle) {
  size_t at = file.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return at;
}

absl::Status ReadStatus(const std::string& file) {
  KeySealer sealer = Sealer('k');
  return ReadBundle(file, &sealer).status();
}

TEST(BundleTest, RoundTripKeepsEverything) {
  const LedgerBundle in = SampleBundle();
  KeySealer sealer = Sealer('k');
  const std::string file = *WriteBundle(in, sealer);
  absl::StatusOr<LedgerBundle> out = ReadBundle(file, &sealer);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->tenant, "t1");
  EXPECT_EQ(out->ledger, "l1");
  EXPECT_EQ(out->version, 3u);
  EXPECT_EQ(out->heads, in.heads);
  ASSERT_EQ(out->blobs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out->blobs[i].store, in.blobs[i].store);
    EXPECT_EQ(out->blobs[i].key, in.blobs[i].key);
    EXPECT_EQ(out->blobs[i].bytes, in.blobs[i].bytes);
  }
  ASSERT_EQ(out->entries.size(), 2u);
  EXPECT_EQ(out->entries[1].cid, "bafyentry2");
  EXPECT_EQ(out->entries[1].parents, in.entries[1].parents);
  EXPECT_EQ(out->entries[1].data, "mBBBB");
  EXPECT_EQ(out->log_records, in.log_records);
  EXPECT_EQ(out->log_head_sha256, in.log_head_sha256);
  EXPECT_EQ(out->keys, in.keys);
  EXPECT_EQ(out->key_count, 2u);
  EXPECT_EQ(file.find("z1key"), std::string::npos) << "keys must be sealed";
}

TEST(BundleTest, EmptyLedgerRoundTrips) {
  LedgerBundle in;
  in.tenant = "t";
  in.ledger = "l";
  KeySealer sealer = Sealer('k');
  absl::StatusOr<LedgerBundle> out = ReadBundle(*WriteBundle(in, sealer), &sealer);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->blobs.empty());
  EXPECT_EQ(out->key_count, 0u);
}

TEST(BundleTest, WithoutKeyFileVerifiesAllButKeys) {
  KeySealer sealer = Sealer('k');
  absl::StatusOr<LedgerBundle> out = ReadBundle(*WriteBundle(SampleBundle(), sealer), nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->keys.empty());
  EXPECT_EQ(out->key_count, 2u);
}

TEST(BundleTest, WrongKeyFileIsRefusedNamingKeys) {
  const std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  KeySealer other = Sealer('x');
  absl::Status s = ReadBundle(file, &other).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("keys"));
}

TEST(BundleTest, ChangedBlobByteIsRefusedNamingTheBlob) {
  std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  file[Find(file, std::string("file\0bytes", 10))] ^= 1;
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("blob file/bafkfile1"));
  EXPECT_THAT(s.message(), HasSubstr("bytes do not match the CID"));
}

TEST(BundleTest, ChangedEntryIsRefusedNamingTheEntry) {
  std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  file[Find(file, "mBBBB") + 1] = 'C';
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("meta entry 1"));
}

TEST(BundleTest, ChangedLogRecordIsRefusedNamingTheRecord) {
  const LedgerBundle in = SampleBundle();
  std::string file = *WriteBundle(in, Sealer('k'));
  file[Find(file, in.log_records[1]) + in.log_records[1].size() - 1] ^= 1;
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("log record 2"));
}

TEST(BundleTest, ConsistentlyRewrittenLogRecordBreaksTheChain) {
  // Someone rewrites record 2 and recomputes every CID: the hash chain still catches it.
  LedgerBundle in = SampleBundle();
  metadata::v1::LogRecord r;
  ASSERT_TRUE(r.ParseFromString(in.log_records[1]));
  r.set_unix_micros(42);
  in.log_records[1] = r.SerializeAsString();
  absl::Status s = ReadStatus(*WriteBundle(in, Sealer('k')));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("log: log record 2"));
}

TEST(BundleTest, DroppedLastLogRecordIsRefusedAtTheHead) {
  LedgerBundle in = SampleBundle();
  in.log_records.pop_back();
  absl::Status s = ReadStatus(*WriteBundle(in, Sealer('k')));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("log"));
}

TEST(BundleTest, ChangedSealedKeysAreRefusedNamingKeys) {
  KeySealer sealer = Sealer('k');
  const std::string file = *WriteBundle(SampleBundle(), sealer);
  // The keys block is the last section; change its last byte.
  std::string bad = file;
  bad.back() ^= 1;
  absl::Status s = ReadStatus(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("keys (block"));
}

TEST(BundleTest, ChangedRootIsRefusedNamingTheRoot) {
  std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  file[Find(file, "baembeicar1") + 3] ^= 1;
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("root block"));
}

TEST(BundleTest, MissingBlockIsRefusedNamingThePart) {
  const LedgerBundle in = SampleBundle();
  std::string file = *WriteBundle(in, Sealer('k'));
  // Cut the file right before the keys section: the keys block is missing.
  const size_t end_of_log = Find(file, in.log_records[2]) + in.log_records[2].size();
  file.resize(end_of_log);
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("keys (block"));
  EXPECT_THAT(s.message(), HasSubstr("block missing"));
}

TEST(BundleTest, ExtraBlockIsRefused) {
  std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  const std::string data = "stowaway";
  const std::string cid = CidForSha256(kCodecRaw, data).ToBytes();
  file.push_back(static_cast<char>(cid.size() + data.size()));
  file += cid + data;
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("is not named by the root"));
}

TEST(BundleTest, TruncatedFileIsRefusedNamingTheSection) {
  std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  file.resize(file.size() - 5);
  absl::Status s = ReadStatus(file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("CAR section at byte"));
}

TEST(BundleTest, EveryChangedByteIsRefused) {
  const std::string file = *WriteBundle(SampleBundle(), Sealer('k'));
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] ^= 0x20;
    absl::Status s = ReadStatus(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "byte " << i << ": " << s;
  }
}

TEST(BundleTest, NotACarIsRefused) {
  EXPECT_EQ(ReadStatus("").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadStatus("hello world").code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kiln::control
