// s3:// backend behaviour beyond the conformance suite, against a real s3rver
// (tests/support/s3rver.h). s3rver does not verify SigV4 signatures: signing is proven by the AWS
// vectors in tests/common/sigv4_test.cc; these tests prove object layout, digests, multipart
// uploads, configuration errors and faults.
#include "services/blockstore/s3_backend.h"

#include <stdlib.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "common/http_client.h"
#include "common/s3_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/backends.h"
#include "tests/support/s3rver.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using kiln::testing::S3rver;
using ::testing::HasSubstr;

std::string CarKey(absl::string_view bytes) {
  return CidForSha256(kCodecFireproofCar, bytes).ToString();
}

std::string Pattern(size_t size, int seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 7919 + seed) >> 3);
  return data;
}

// The blob under `key` as a BlobReader delivers it (NewReader, then every window); the first
// error of either.
absl::StatusOr<std::string> ReadStreamed(BlockBackend& backend, const BlobKey& key) {
  absl::StatusOr<std::unique_ptr<BlobReader>> reader = backend.NewReader(key);
  if (!reader.ok()) return reader.status();
  return ReadAll(**reader);
}

class S3BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    S3rver::SetCredentialsInEnvironment();
    auto server = S3rver::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::unique_ptr<S3BlockBackend> Open(const std::string& extra = "") {
    auto backend = BlockBackendRegistry().Create(server_->BackendUrl("pre/fix", extra));
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return nullptr;
    return std::unique_ptr<S3BlockBackend>(static_cast<S3BlockBackend*>(backend->release()));
  }

  // A raw client on the same bucket, to look at and tamper with objects behind the backend.
  std::unique_ptr<S3Client> RawClient() {
    S3ClientOptions options;
    options.location = {server_->endpoint(), server_->bucket(), "us-east-1", true};
    options.credentials = {S3rver::kAccessKey, S3rver::kSecretKey, ""};
    options.max_attempts = 1;
    return std::make_unique<S3Client>(options);
  }

  absl::StatusOr<HttpResponse> RawPut(const std::string& object, absl::string_view data,
                                      const std::string& digest_hex) {
    S3Request request;
    request.method = "PUT";
    request.key = object;
    if (!digest_hex.empty()) request.headers = {{"x-amz-meta-kiln-sha256", digest_hex}};
    request.body = data;
    return RawClient()->Send(request);
  }

  std::unique_ptr<S3rver> server_;
};

TEST_F(S3BackendTest, ObjectsLiveUnderPrefixTenantLedgerStoreKey) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  std::string data = "car bytes";
  ASSERT_TRUE(backend->Put({{"t1", "l1"}, Store::kCar, CarKey(data)}, data, Sha256(data)).ok());
  S3Request get;
  get.method = "GET";
  get.key = "pre/fix/t1/l1/car/" + CarKey(data);
  auto raw = RawClient()->Send(get);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->status, 200);
  EXPECT_EQ(raw->body, data);
  EXPECT_EQ(raw->Header("x-amz-meta-kiln-sha256"), HexEncode(DigestBytes(Sha256(data))));
  // Tenant and ledger ids stay one path segment each.
  EXPECT_EQ(backend->ObjectName({{"a/b", "c%d"}, Store::kMeta, "main"}),
            "pre/fix/a%2Fb/c%25d/meta/main");
}

TEST_F(S3BackendTest, BlobAboveThresholdGoesUpAsMultipartAndRoundTrips) {
  auto backend = Open("&multipart_threshold_bytes=5242880&part_bytes=5242880");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(12 << 20, 1);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  auto put = backend->Put(key, data, Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);
  // Initiate, three parts, HEAD, complete, and the copy that sets the digest.
  EXPECT_EQ(backend->client().stats()->requests.load(), 7u);
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE((*blob)->data() == data);
  EXPECT_EQ((*blob)->info().sha256, Sha256(data));
  EXPECT_EQ(*backend->Put(key, data, Sha256(data)), PutOutcome::kAlreadyPresent);
}

TEST_F(S3BackendTest, LargeBlobStreamsInPartsAndWindowsAndIsCheckedAtTheLastWindow) {
  auto backend = Open("&multipart_threshold_bytes=5242880&part_bytes=5242880");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(12 << 20, 4);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  auto writer = backend->NewWriter(key, data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (size_t offset = 0; offset < data.size(); offset += 1 << 20) {
    ASSERT_TRUE((*writer)->Write(data.substr(offset, 1 << 20)).ok());
  }
  // Nothing is visible before the commit.
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kNotFound);
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);

  auto read_all = [&](std::string* out) -> absl::Status {
    auto reader = backend->NewReader(key);
    if (!reader.ok()) return reader.status();
    EXPECT_EQ((*reader)->info().size, data.size());
    out->clear();
    for (;;) {
      absl::StatusOr<absl::string_view> window = (*reader)->Read();
      if (!window.ok()) return window.status();
      if (window->empty()) return absl::OkStatus();
      EXPECT_LE(window->size(), 5u << 20);
      out->append(window->data(), window->size());
    }
  };
  std::string got;
  ASSERT_TRUE(read_all(&got).ok());
  EXPECT_TRUE(got == data);

  // Same size, one byte changed in the last window, the original digest kept.
  std::string tampered = data;
  tampered[tampered.size() - 1] ^= 1;
  auto raw = RawPut(backend->ObjectName(key), tampered, HexEncode(DigestBytes(Sha256(data))));
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  absl::Status bad = read_all(&got);
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss) << bad;
  EXPECT_LT(got.size(), data.size());
}

TEST_F(S3BackendTest, AbandonedLargeWriterLeavesNothing) {
  auto backend = Open("&multipart_threshold_bytes=5242880&part_bytes=5242880");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(12 << 20, 5);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  {
    auto writer = backend->NewWriter(key, data.size());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(data.substr(0, 6 << 20)).ok());  // one part uploaded
  }
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kNotFound);
  auto list = backend->List({"t1", "l1"}, Store::kFile, "", 10);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->entries.empty());
}

TEST_F(S3BackendTest, LargeDirectUploadIsServedInWindowsWithItsComputedDigest) {
  auto backend = Open("&unverified_objects=serve&part_bytes=5242880");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(11 << 20, 6);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  auto raw = RawPut(backend->ObjectName(key), data, "");
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  auto reader = backend->NewReader(key);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().sha256, Sha256(data));
  absl::StatusOr<std::string> got = ReadAll(**reader);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

// Collects what HttpClient passes to a sink, stopping after `stop_after` body bytes (or at the
// headers with 0).
class RecordingSink : public HttpBodySink {
 public:
  explicit RecordingSink(uint64_t stop_after = UINT64_MAX) : stop_after_(stop_after) {}
  bool OnHeaders(const HttpResponse& response) override {
    ++headers_calls;
    status_at_headers = response.status;
    length_at_headers = response.Header("content-length");
    return stop_after_ > 0;
  }
  bool OnBody(absl::string_view data) override {
    ++body_calls;
    body.append(data.data(), data.size());
    return body.size() < stop_after_;
  }
  int headers_calls = 0;
  int body_calls = 0;
  int status_at_headers = 0;
  std::string length_at_headers;
  std::string body;

 private:
  const uint64_t stop_after_;
};

// A GET of sink/object, which `put` (a RawPut) stored behind the backend's back.
S3Request GetOfRawObject(absl::StatusOr<HttpResponse> put) {
  EXPECT_TRUE(put.ok() && put->status == 200);
  S3Request get;
  get.method = "GET";
  get.key = "sink/object";
  return get;
}

TEST_F(S3BackendTest, SinkTakesA2xxBodyAsItArrivesAndOtherStatusesAreGathered) {
  std::string data = Pattern(3 << 20, 9);
  S3Request get = GetOfRawObject(RawPut("sink/object", data, ""));
  auto client = RawClient();
  get.max_response_bytes = 1024;  // limits gathered bodies only
  RecordingSink sink;
  get.sink = &sink;
  auto got = client->Send(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_TRUE(got->body.empty());
  EXPECT_FALSE(got->sink_stopped);
  EXPECT_EQ(sink.headers_calls, 1);
  EXPECT_EQ(sink.status_at_headers, 200);
  EXPECT_EQ(sink.length_at_headers, absl::StrCat(data.size()));
  EXPECT_GT(sink.body_calls, 1);  // in pieces, as they arrived
  EXPECT_TRUE(sink.body == data);

  // A 404's error body is gathered as usual and the sink is not called.
  RecordingSink missing_sink;
  get.key = "sink/missing";
  get.sink = &missing_sink;
  auto missing = client->Send(get);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(S3ErrorCode(missing->body), "NoSuchKey");
  EXPECT_EQ(missing_sink.headers_calls, 0);
}

TEST_F(S3BackendTest, SinkStoppingATransferGetsItsHeadersAndTheClientGoesOn) {
  std::string data = Pattern(3 << 20, 10);
  S3Request get = GetOfRawObject(RawPut("sink/object", data, ""));
  auto client = RawClient();
  for (uint64_t stop_after : {uint64_t{0}, uint64_t{1}}) {
    RecordingSink sink(stop_after);
    get.sink = &sink;
    auto got = client->Send(get);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->status, 200);
    EXPECT_TRUE(got->sink_stopped);
    EXPECT_EQ(got->Header("content-length"), absl::StrCat(data.size()));
    EXPECT_LT(sink.body.size(), data.size());
  }
  // The stopped transfers' connections were dropped, not reused half-read.
  get.sink = nullptr;
  auto whole = client->Send(get);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->body == data);
}

// A small blob's writer sends its HEAD when it is created; a put or delete of the same key in
// this process before its commit makes that answer stale, and the commit HEADs again (s3rver
// ignores If-None-Match, so only the HEAD keeps the first blob).
TEST_F(S3BackendTest, HeadSentAheadIsNotTrustedAfterAPutOfTheSameKey) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  const std::string first = "first bytes";
  const std::string second = "other bytes";
  BlobKey key{{"t1", "l1"}, Store::kMeta, "main"};
  auto writer = backend->NewWriter(key, second.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto put = backend->Put(key, first, Sha256(first));
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_TRUE((*writer)->Write(second).ok());
  EXPECT_EQ((*writer)->Commit(Sha256(second)).status().code(), absl::StatusCode::kAlreadyExists);
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), first);
}

TEST_F(S3BackendTest, HeadSentAheadIsNotTrustedAfterADeleteOfTheSameKey) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  const std::string data = "the bytes";
  BlobKey key{{"t1", "l1"}, Store::kMeta, "main"};
  ASSERT_TRUE(backend->Put(key, data, Sha256(data)).ok());
  auto writer = backend->NewWriter(key, data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(backend->Delete(key).ok());
  ASSERT_TRUE((*writer)->Write(data).ok());
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);  // not "already present": it was deleted
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), data);
}

TEST_F(S3BackendTest, SmallPutIsOneHeadAndOnePutAndARePutOneHead) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  const std::string data = Pattern(1 << 20, 11);
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  for (PutOutcome expected : {PutOutcome::kCreated, PutOutcome::kAlreadyPresent}) {
    auto writer = backend->NewWriter(key, data.size());
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(data).ok());
    auto put = (*writer)->Commit(Sha256(data));
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(*put, expected);
  }
  EXPECT_EQ(backend->client().stats()->requests.load(), 3u);
  // An abandoned writer stores nothing.
  const std::string other = Pattern(1000, 12);
  BlobKey other_key{{"t1", "l1"}, Store::kCar, CarKey(other)};
  {
    auto writer = backend->NewWriter(other_key, other.size());
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(other).ok());
  }
  EXPECT_EQ(backend->Get(other_key).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3BackendTest, TamperedObjectReadsAsDataLoss) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  std::string data = "original bytes";
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  ASSERT_TRUE(backend->Put(key, data, Sha256(data)).ok());
  auto raw =
      RawPut(backend->ObjectName(key), "tampered bytes", HexEncode(DigestBytes(Sha256(data))));
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(S3BackendTest, MalformedStoredDigestReadsAsDataLoss) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  BlobKey key{{"t1", "l1"}, Store::kMeta, "main"};
  auto raw = RawPut(backend->ObjectName(key), "x", "not-a-digest");
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(S3BackendTest, ObjectWithoutDigestIsAbsentAndGetsOverwritten) {
  // What an upload cut short leaves on a store without atomic PUTs (s3rver writes in place).
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  std::string data = "whole blob";
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  auto raw = RawPut(backend->ObjectName(key), "whole b", "");
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kNotFound);
  auto stats = backend->BatchStat({"t1", "l1"}, Store::kCar, {key.key});
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE((*stats)[0].has_value());
  EXPECT_EQ(*backend->Put(key, data, Sha256(data)), PutOutcome::kCreated);
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), data);
}

TEST_F(S3BackendTest, WithServeUnverifiedDirectUploadsAreServedAndStatted) {
  // What a client's PUT through a presigned URL leaves: the bytes without the kiln digest.
  auto backend = Open("&unverified_objects=serve");
  ASSERT_NE(backend, nullptr);
  std::string data = "uploaded directly";
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  auto raw = RawPut(backend->ObjectName(key), data, "");
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data(), data);
  EXPECT_EQ((*blob)->info().sha256, Sha256(data));
  auto stats = backend->BatchStat({"t1", "l1"}, Store::kCar, {key.key});
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE((*stats)[0].has_value());
  EXPECT_EQ((*stats)[0]->size, data.size());
  // A put through the block-store replaces it with a verified copy.
  EXPECT_EQ(*backend->Put(key, data, Sha256(data)), PutOutcome::kCreated);
  EXPECT_TRUE(backend->Delete(key).ok());
}

TEST_F(S3BackendTest, ObjectLargerThanMaxObjectBytesIsRefusedNotRead) {
  auto backend = Open("&unverified_objects=serve&max_object_bytes=1024");
  ASSERT_NE(backend, nullptr);
  std::string data(4096, 'x');
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  auto raw = RawPut(backend->ObjectName(key), data, "");
  ASSERT_TRUE(raw.ok() && raw->status == 200);
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend->client().stats()->retries.load(), 0u);
}

TEST_F(S3BackendTest, ServerKilledDuringPutFailsUnavailableStoresNothingAndRecovers) {
  auto backend = Open("&max_attempts=2&stall_timeout_ms=2000");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(32 << 20, 2);
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  server_->Freeze();  // requests hang until the kill resets them
  absl::StatusOr<PutOutcome> put;
  std::thread writer([&] { put = backend->Put(key, data, Sha256(data)); });
  server_->Kill();
  writer.join();
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_EQ(backend->Get(key).status().code(), absl::StatusCode::kNotFound);
  auto again = backend->Put(key, data, Sha256(data));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, PutOutcome::kCreated);
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE((*blob)->data() == data);
}

TEST_F(S3BackendTest, ServerKilledDuringGetFailsUnavailableAndRecovers) {
  auto backend = Open("&max_attempts=2&stall_timeout_ms=2000");
  ASSERT_NE(backend, nullptr);
  std::string data = Pattern(8 << 20, 3);
  BlobKey key{{"t1", "l1"}, Store::kCar, CarKey(data)};
  ASSERT_TRUE(backend->Put(key, data, Sha256(data)).ok());
  server_->Freeze();
  absl::StatusOr<std::unique_ptr<Blob>> got;
  std::thread reader([&] { got = backend->Get(key); });
  server_->Kill();
  reader.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  ASSERT_TRUE(server_->Restart().ok());
  auto blob = backend->Get(key);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE((*blob)->data() == data);
}

// mirror(rocksdb, s3) streams a put into both stores; S3 going away between two parts fails the
// put before either store commits, so neither shows the blob, and a retry stores it in both.
TEST_F(S3BackendTest, MirrorPutStreamedWhileS3IsKilledStoresNothingInEitherStore) {
  kiln::testing::TempDir dir;
  auto mirror = CreateBlockBackend(
      absl::StrCat("mirror(rocksdb://", dir.path(), "/db, ",
                   server_->BackendUrl("m",
                                       "&multipart_threshold_bytes=5242880&part_bytes=5242880"
                                       "&max_attempts=2&stall_timeout_ms=2000"),
                   ")"));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  std::string data = Pattern(12 << 20, 7);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  {
    auto writer = (*mirror)->NewWriter(key, data.size());
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ((*writer)->preferred_write_bytes(), 5u << 20);
    // RocksDB gathers the blob for its one Put; S3 holds a part.
    EXPECT_EQ((*writer)->held_bytes(), data.size() + (5u << 20));
    ASSERT_TRUE((*writer)->Write(data.substr(0, 6 << 20)).ok());  // one part uploaded
    server_->Kill();
    EXPECT_EQ((*writer)->Write(data.substr(6 << 20)).code(), absl::StatusCode::kUnavailable);
  }
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_EQ((*mirror)->Get(key).status().code(), absl::StatusCode::kNotFound);
  auto listed = (*mirror)->List({"t1", "l1"}, Store::kFile, "", 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->entries.empty());

  auto writer = (*mirror)->NewWriter(key, data.size());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write(data.substr(0, 6 << 20)).ok());
  ASSERT_TRUE((*writer)->Write(data.substr(6 << 20)).ok());
  auto put = (*writer)->Commit(Sha256(data));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, PutOutcome::kCreated);
  // Both stores hold it: nothing to repair, and S3 alone serves it.
  auto report = (*mirror)->Repair({"t1", "l1"}, Store::kFile);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->copied_to_first + report->copied_to_second + report->failed, 0u);
  auto stored = BlockBackendRegistry().Create(server_->BackendUrl("m"));
  ASSERT_TRUE(stored.ok()) << stored.status();
  absl::StatusOr<std::string> got = ReadStreamed(**stored, key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

// mirror(s3, rocksdb) reads S3 in windows; a copy in S3 found corrupt only at its last window
// ends that read with DATA_LOSS (the blob never arrives whole), and the retry reads RocksDB's.
TEST_F(S3BackendTest, MirrorReadOfACorruptS3CopyIsDataLossOnceThenServedByTheSecondStore) {
  kiln::testing::TempDir dir;
  const std::string s3_url = server_->BackendUrl("c", "&part_bytes=5242880");
  auto mirror =
      CreateBlockBackend(absl::StrCat("mirror(", s3_url, ", rocksdb://", dir.path(), ")"));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  std::string data = Pattern(12 << 20, 8);
  BlobKey key{{"t1", "l1"}, Store::kFile, CarKey(data)};
  ASSERT_TRUE((*mirror)->Put(key, data, Sha256(data)).ok());
  auto s3 = BlockBackendRegistry().Create(s3_url);
  ASSERT_TRUE(s3.ok()) << s3.status();
  std::string tampered = data;
  tampered[tampered.size() - 1] ^= 1;
  auto raw = RawPut(static_cast<S3BlockBackend&>(**s3).ObjectName(key), tampered,
                    HexEncode(DigestBytes(Sha256(data))));
  ASSERT_TRUE(raw.ok() && raw->status == 200);

  auto first = (*mirror)->NewReader(key);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(ReadAll(**first).status().code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<std::string> got = ReadStreamed(**mirror, key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST_F(S3BackendTest, MissingBucketIsFailedPrecondition) {
  auto backend = BlockBackendRegistry().Create(
      absl::StrCat("s3://no-such-bucket/p?endpoint=", server_->endpoint()));
  ASSERT_TRUE(backend.ok()) << backend.status();
  std::string data = "x";
  EXPECT_EQ((*backend)->Put({{"t1", "l1"}, Store::kMeta, "k"}, data, Sha256(data)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(S3BackendTest, CredentialsFileIsRead) {
  kiln::testing::TempDir dir;
  std::string path = dir.path() + "/credentials";
  std::ofstream(path) << "# for s3rver\nAWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=S3RVER\n";
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  auto backend =
      BlockBackendRegistry().Create(server_->BackendUrl("p", "&credentials_file=" + path));
  S3rver::SetCredentialsInEnvironment();
  ASSERT_TRUE(backend.ok()) << backend.status();
  std::string data = "x";
  EXPECT_TRUE((*backend)->Put({{"t1", "l1"}, Store::kMeta, "k"}, data, Sha256(data)).ok());
}

TEST_F(S3BackendTest, PresignedUrlsPutAndGetTheObjectDirectly) {
  auto client = RawClient();
  HttpClient http({});
  HttpRequest put;
  put.method = "PUT";
  put.url = client->PresignedUrl("PUT", "direct/obj", absl::Minutes(5));
  put.body = "direct bytes";
  auto put_response = http.Send(put);
  ASSERT_TRUE(put_response.ok()) << put_response.status();
  EXPECT_EQ(put_response->status, 200);
  HttpRequest get;
  get.method = "GET";
  get.url = client->PresignedUrl("GET", "direct/obj", absl::Minutes(5));
  EXPECT_THAT(get.url, HasSubstr("X-Amz-Signature="));
  auto got = http.Send(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "direct bytes");
}

TEST(S3BackendConfigTest, MissingCredentialsIsInvalidArgumentNamingTheVariables) {
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  auto backend = BlockBackendRegistry().Create("s3://bucket/p?endpoint=http://127.0.0.1:1");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr("AWS_ACCESS_KEY_ID"));
}

TEST(S3BackendConfigTest, BadUrlsAreInvalidArgumentSayingWhatIsWrong) {
  S3rver::SetCredentialsInEnvironment();
  struct Case {
    std::string url;
    std::string says;
  } cases[] = {
      {"s3:///prefix?endpoint=http://127.0.0.1:9000", "bucket"},
      {"s3://b/p?endpoint=ftp://127.0.0.1:9000", "endpoint"},
      {"s3://b/p?endpoint=http://127.0.0.1:9000/path", "endpoint"},
      {"s3://b/p?endpoint=http://127.0.0.1:9000&part_bytes=1024", "part_bytes"},
      {"s3://b/p?endpoint=http://127.0.0.1:9000&path_style=maybe", "path_style"},
      {"s3://b/p?endpoint=http://127.0.0.1:9000&regoin=x", "regoin"},
      {"s3://b/p?credentials_file=/nonexistent/creds", "credentials_file"},
  };
  for (const Case& c : cases) {
    auto backend = BlockBackendRegistry().Create(c.url);
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(backend.status().message()), HasSubstr(c.says)) << c.url;
  }
}

TEST(S3BackendConfigTest, UnreachableStoreIsUnavailable) {
  S3rver::SetCredentialsInEnvironment();
  // Port 1 on loopback refuses connections.
  auto backend =
      BlockBackendRegistry().Create("s3://b/p?endpoint=http://127.0.0.1:1&max_attempts=2");
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->Get({{"t1", "l1"}, Store::kMeta, "k"}).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kiln::blockstore
