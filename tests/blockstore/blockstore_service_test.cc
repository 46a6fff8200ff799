// The block-store service through a real gRPC channel (in-process server on a loopback port).
#include "services/blockstore/blockstore_service.h"

#include <memory>
#include <string>

#include "common/cid.h"
#include "common/dag_cbor.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "services/blockstore/memory_backend.h"
#include "tests/blockstore/blockstore_test_client.h"
#include "tests/blockstore/served_blockstore.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using testing::GetBlob;
using ::testing::HasSubstr;
using testing::ListBlobs;
using testing::PutBlob;
using testing::Ref;

std::string CarCid(absl::string_view bytes) {
  return CidForSha256(kCodecFireproofCar, bytes).ToString();
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

class BlockStoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServedBlockStore::Options options;
    options.service.max_blob_bytes = 64 << 20;
    options.executor = {.threads = 4, .max_queued = 64};
    options.server_max_receive_bytes = 80 << 20;
    options.stub_max_receive_bytes = 80 << 20;
    absl::Status started = served_.Start(backend_, options);
    ASSERT_TRUE(started.ok()) << started;
    stub_ = &served_.stub();
  }

  std::string MetricsText() {
    return prometheus::TextSerializer().Serialize(served_.metrics().registry().Collect());
  }

  MemoryBlockBackend backend_;
  testing::ServedBlockStore served_;
  v1::BlockStoreService::Stub* stub_ = nullptr;
};

TEST_F(BlockStoreServiceTest, SixtyFourMiBBlobRoundTripsInChunks) {
  std::string data = Pattern(64 << 20, 1);
  v1::PutResponse put;
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(data)), data, &put).ok());
  EXPECT_TRUE(put.created());
  EXPECT_EQ(put.size(), data.size());
  EXPECT_EQ(put.sha256(), DigestBytes(Sha256(data)));
  std::string got;
  v1::GetResponse first;
  grpc::Status s = GetBlob(*stub_, Ref(CarCid(data)), &got, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(first.size(), data.size());
  EXPECT_EQ(first.sha256(), DigestBytes(Sha256(data)));
  EXPECT_TRUE(got == data);
}

TEST_F(BlockStoreServiceTest, EmptyBlobRoundTrips) {
  ASSERT_TRUE(PutBlob(*stub_, Ref("empty", v1::STORE_META), "").ok());
  std::string got = "x";
  v1::GetResponse first;
  ASSERT_TRUE(GetBlob(*stub_, Ref("empty", v1::STORE_META), &got, &first).ok());
  EXPECT_EQ(got, "");
  EXPECT_EQ(first.sha256(), DigestBytes(Sha256("")));
}

TEST_F(BlockStoreServiceTest, PutOfSameBytesAgainIsIdempotent) {
  std::string data = Pattern(1000, 2);
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(data)), data).ok());
  v1::PutResponse again;
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(data)), data, &again).ok());
  EXPECT_FALSE(again.created());
}

TEST_F(BlockStoreServiceTest, PutOfDifferentBytesUnderSameKeyIsAlreadyExistsAndKeepsFirst) {
  std::string first = Pattern(100, 3), second = Pattern(100, 4);
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(first)), first).ok());
  grpc::Status s = PutBlob(*stub_, Ref(CarCid(first)), second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  std::string got;
  ASSERT_TRUE(GetBlob(*stub_, Ref(CarCid(first)), &got).ok());
  EXPECT_EQ(got, first);
}

TEST_F(BlockStoreServiceTest, GetOfMissingBlobIsNotFound) {
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref(CarCid("missing")), &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(BlockStoreServiceTest, InvalidAddressesAreRejectedNamingTheField) {
  struct Case {
    v1::BlobRef ref;
    const char* field;
  } cases[] = {
      {Ref(CarCid("x"), v1::STORE_CAR, "", "l1"), "ref.tenant"},
      {Ref(CarCid("x"), v1::STORE_CAR, "t1", ""), "ref.ledger"},
      {Ref(CarCid("x"), v1::STORE_UNSPECIFIED), "ref.store"},
      {Ref("not-a-cid"), "ref.key"},
      {Ref("bafyreiinvalid!!"), "ref.key"},
      {Ref("", v1::STORE_META), "ref.key"},
      {Ref(CarCid("x"), v1::STORE_FILE, std::string(300, 't')), "ref.tenant"},
  };
  for (const Case& c : cases) {
    grpc::Status put = PutBlob(*stub_, c.ref, "data");
    EXPECT_EQ(put.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(put.error_message(), HasSubstr(c.field));
    std::string got;
    grpc::Status get = GetBlob(*stub_, c.ref, &got);
    EXPECT_EQ(get.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(get.error_message(), HasSubstr(c.field));
  }
}

TEST_F(BlockStoreServiceTest, OversizeBlobIsRejectedBeforeAnyDataIsBuffered) {
  std::string data = Pattern(1024, 5);
  grpc::Status s = PutBlob(*stub_, Ref(CarCid(data)), data, nullptr, 256 << 10, (64 << 20) + 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limit"));
}

TEST_F(BlockStoreServiceTest, StreamShorterThanDeclaredStoresNothing) {
  std::string data = Pattern(4096, 6);
  grpc::Status s = PutBlob(*stub_, Ref(CarCid(data)), data, nullptr, 1024, 8192);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("nothing stored"));
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref(CarCid(data)), &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BlockStoreServiceTest, StreamLongerThanDeclaredStoresNothing) {
  std::string data = Pattern(4096, 7);
  grpc::Status s = PutBlob(*stub_, Ref(CarCid(data)), data, nullptr, 1024, 2048);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref(CarCid(data)), &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BlockStoreServiceTest, CancelledStreamStoresNothing) {
  std::string data = Pattern(1 << 20, 8);
  {
    grpc::ClientContext ctx;
    v1::PutResponse resp;
    auto writer = stub_->Put(&ctx, &resp);
    v1::PutRequest req;
    *req.mutable_ref() = Ref(CarCid(data));
    req.set_size(data.size());
    req.set_data(data.substr(0, 512 << 10));
    ASSERT_TRUE(writer->Write(req));
    ctx.TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref(CarCid(data)), &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

// A client that re-uploads a CAR it could not read sends an encryption of zero bytes; stored
// first, it would hide the real CAR (services/blockstore/car_upload_check.h).
TEST_F(BlockStoreServiceTest, CarThatCannotBeACarIsRefusedAndTheRealOneIsStoredAfter) {
  std::string real = Pattern(500, 9);
  std::string key = CarCid(real);
  grpc::Status empty = PutBlob(*stub_, Ref(key), "");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty.error_message(), HasSubstr("cannot be a CAR"));
  std::string envelope = cbor::EncodeDagCbor(cbor::Value::Map({
      {"iv", cbor::Value::Bytes(std::string(12, '\x01'))},
      {"keyId", cbor::Value::Bytes(std::string(32, '\x02'))},
      {"data", cbor::Value::Bytes(std::string(16, '\x03'))},
  }));
  grpc::Status hollow = PutBlob(*stub_, Ref(key), envelope);
  EXPECT_EQ(hollow.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(hollow.error_message(), HasSubstr("0 plaintext bytes"));
  std::string got;
  EXPECT_EQ(GetBlob(*stub_, Ref(key), &got).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PutResponse put;
  ASSERT_TRUE(PutBlob(*stub_, Ref(key), real, &put).ok());
  EXPECT_TRUE(put.created());
  // Other stores keep any bytes, the empty ones included.
  EXPECT_TRUE(PutBlob(*stub_, Ref(key, v1::STORE_FILE), envelope).ok());
}

TEST_F(BlockStoreServiceTest, DigestMismatchIsRejected) {
  std::string data = Pattern(100, 9);
  grpc::ClientContext ctx;
  v1::PutResponse resp;
  auto writer = stub_->Put(&ctx, &resp);
  v1::PutRequest req;
  *req.mutable_ref() = Ref(CarCid(data));
  req.set_size(data.size());
  req.set_sha256(DigestBytes(Sha256("other bytes")));
  req.set_data(data);
  writer->Write(req);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("sha256"));
}

TEST_F(BlockStoreServiceTest, EmptyPutStreamIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::PutResponse resp;
  auto writer = stub_->Put(&ctx, &resp);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BlockStoreServiceTest, BatchStatDeleteAndListThroughTheChannel) {
  std::string a = Pattern(10, 10), b = Pattern(20, 11);
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(a)), a).ok());
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(b)), b).ok());

  grpc::ClientContext stat_ctx;
  v1::BatchStatRequest stat_req;
  stat_req.set_tenant("t1");
  stat_req.set_ledger("l1");
  stat_req.set_store(v1::STORE_CAR);
  stat_req.add_keys(CarCid(a));
  stat_req.add_keys(CarCid("missing"));
  v1::BatchStatResponse stat_resp;
  ASSERT_TRUE(stub_->BatchStat(&stat_ctx, stat_req, &stat_resp).ok());
  ASSERT_EQ(stat_resp.stats_size(), 2);
  EXPECT_TRUE(stat_resp.stats(0).found());
  EXPECT_EQ(stat_resp.stats(0).size(), 10u);
  EXPECT_EQ(stat_resp.stats(0).sha256(), DigestBytes(Sha256(a)));
  EXPECT_FALSE(stat_resp.stats(1).found());

  grpc::ClientContext del_ctx;
  v1::DeleteRequest del_req;
  *del_req.mutable_ref() = Ref(CarCid(a));
  v1::DeleteResponse del_resp;
  ASSERT_TRUE(stub_->Delete(&del_ctx, del_req, &del_resp).ok());
  grpc::ClientContext del2_ctx;
  EXPECT_EQ(stub_->Delete(&del2_ctx, del_req, &del_resp).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ListResponse list_resp;
  ASSERT_TRUE(ListBlobs(*stub_, v1::STORE_CAR, 1, &list_resp).ok());
  ASSERT_EQ(list_resp.blobs_size(), 1);
  EXPECT_EQ(list_resp.blobs(0).key(), CarCid(b));
  EXPECT_EQ(list_resp.blobs(0).size(), 20u);
  EXPECT_EQ(list_resp.next_page_token(), "");
}

TEST_F(BlockStoreServiceTest, ListReturnsTokenUntilTheLastPage) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(PutBlob(*stub_, Ref("k" + std::to_string(i), v1::STORE_WAL), "x").ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListResponse resp;
    ASSERT_TRUE(ListBlobs(*stub_, v1::STORE_WAL, 2, &resp, token).ok());
    for (const auto& blob : resp.blobs()) seen.push_back(blob.key());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ::testing::ElementsAre("k0", "k1", "k2", "k3", "k4"));
}

TEST_F(BlockStoreServiceTest, BatchStatRejectsTooManyKeysAndBadCids) {
  v1::BatchStatRequest req;
  req.set_tenant("t1");
  req.set_ledger("l1");
  req.set_store(v1::STORE_CAR);
  for (int i = 0; i < 1001; ++i) req.add_keys(CarCid(std::to_string(i)));
  grpc::ClientContext ctx;
  v1::BatchStatResponse resp;
  grpc::Status s = stub_->BatchStat(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("at most 1000"));

  req.clear_keys();
  req.add_keys(CarCid("ok"));
  req.add_keys("zzz-not-a-cid");
  grpc::ClientContext ctx2;
  s = stub_->BatchStat(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("keys[1]"));
}

TEST_F(BlockStoreServiceTest, MetricsCountBlobsAndRpcsWithGoGrpcPrometheusNames) {
  std::string data = Pattern(3000, 12);
  ASSERT_TRUE(PutBlob(*stub_, Ref(CarCid(data)), data).ok());
  std::string got;
  ASSERT_TRUE(GetBlob(*stub_, Ref(CarCid(data)), &got).ok());
  EXPECT_EQ(GetBlob(*stub_, Ref(CarCid("nope")), &got).error_code(), grpc::StatusCode::NOT_FOUND);
  // The server reports the status after the client sees it; shut down to flush every RPC's
  // completion into the metrics before reading them.
  served_.Shutdown();
  std::string text = MetricsText();
  using kiln::testing::MetricValue;
  EXPECT_EQ(MetricValue(text, "kiln_blockstore_blobs_written_total"), 1);
  EXPECT_EQ(MetricValue(text, "kiln_blockstore_written_bytes_total"), 3000);
  EXPECT_EQ(MetricValue(text, "kiln_blockstore_read_bytes_total"), 3000);
  EXPECT_EQ(MetricValue(text,
                        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\","
                        "grpc_service=\"kiln.blockstore.v1.BlockStoreService\","
                        "grpc_type=\"client_stream\"}"),
            1);
  EXPECT_EQ(MetricValue(text,
                        "grpc_server_handled_total{grpc_code=\"NotFound\",grpc_method=\"Get\","
                        "grpc_service=\"kiln.blockstore.v1.BlockStoreService\","
                        "grpc_type=\"server_stream\"}"),
            1);
}

}  // namespace
}  // namespace kiln::blockstore
