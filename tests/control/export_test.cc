// ControlService.ExportLedger through a real gRPC channel over in-process metadata and block-store
// servers: the streamed bundle verifies offline and holds the ledger's state, every entry, the
// whole log, every blob and the keys; refusals carry specific codes.
#include <memory>
#include <string>

#include "common/cid.h"
#include "common/metrics.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "services/control/bundle.h"
#include "services/control/control_service.h"
#include "tests/merge/mesh.h"
#include "tests/support/test_support.h"

namespace kiln::control {
namespace {

namespace mv1 = ::kiln::metadata::v1;

constexpr char kAdminToken[] = "test-admin-token-0123456789";
const std::string kCarKey = CidForSha256(kCodecFireproofCar, "car plaintext").ToString();
const std::string kFileKey = CidForSha256(kCodecRaw, "file plaintext").ToString();
const std::string kSealingKey(32, 's');

class ExportLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto metadata = [&] {
      return ShardedChannels(testing::LoopbackChannel(mesh_.metadata_target()));
    };
    auto blocks = [&] {
      return ShardedChannels(testing::LoopbackChannel(mesh_.blockstore_target()));
    };
    metadata_stub_ =
        mv1::MetadataService::NewStub(testing::LoopbackChannel(mesh_.metadata_target()));
    auth_ = std::make_unique<AdminAuth>(*AdminAuth::Create(kAdminToken));
    audit_ = *AuditLog::Open("");
    ledgers_ = std::make_unique<LedgerAdmin>(metadata(), blocks(), absl::Seconds(10));
    exporter_ = std::make_unique<LedgerExporter>(metadata(), blocks(), absl::Seconds(10));
    service_ = std::make_unique<ControlServiceImpl>(
        ControlServiceOptions{}, *auth_, *ledgers_, *exporter_, *audit_, nullptr, "",
        RealClock::Get(), executor_, metrics_.registry());
    server_ = *GrpcServer::Start(ServerOptions{}, {service_.get()}, metrics_);
    stub_ = v1::ControlService::NewStub(
        testing::LoopbackChannel("127.0.0.1:" + std::to_string(server_->port())));
  }

  void TearDown() override { server_->Shutdown(); }

  void Commit(const std::string& ledger, const std::string& cid, uint64_t expected_version) {
    grpc::ClientContext ctx;
    mv1::CommitRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_expected_version(expected_version);
    r.add_writers("w");
    mv1::MetaEntry* e = r.add_entries();
    e->set_cid(cid);
    e->set_data("data-" + cid);
    r.add_heads(cid);
    r.add_keys("zKey-" + cid);
    mv1::CommitResponse resp;
    grpc::Status s = metadata_stub_->Commit(&ctx, r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void PutBlob(const std::string& ledger, blockstore::Store store, const std::string& key,
               const std::string& data) {
    ASSERT_TRUE(mesh_.blocks().Put({"t1", ledger, store, key}, data, Sha256(data)).ok());
  }

  // Calls ExportLedger; returns its status and sets `file` to the concatenated stream.
  grpc::Status Export(const std::string& ledger, const std::string& key, std::string* file,
                      bool authenticated = true) {
    grpc::ClientContext ctx;
    if (authenticated) ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    v1::ExportLedgerRequest request;
    request.set_tenant("t1");
    request.set_ledger(ledger);
    request.set_sealing_key(key);
    auto reader = stub_->ExportLedger(&ctx, request);
    file->clear();
    v1::ExportLedgerResponse chunk;
    while (reader->Read(&chunk)) *file += chunk.data();
    return reader->Finish();
  }

  testing::Mesh mesh_{/*merges=*/0};
  std::unique_ptr<mv1::MetadataService::Stub> metadata_stub_;
  BoundedExecutor executor_{{.threads = 4, .max_queued = 256}};
  std::unique_ptr<AdminAuth> auth_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<LedgerAdmin> ledgers_;
  std::unique_ptr<LedgerExporter> exporter_;
  Metrics metrics_;
  std::unique_ptr<ControlServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::ControlService::Stub> stub_;
};

TEST_F(ExportLedgerTest, StreamsAVerifiedBundleOfTheWholeLedger) {
  Commit("l1", "bafyentry1", 0);
  Commit("l1", "bafyentry2", 1);
  PutBlob("l1", blockstore::Store::kCar, kCarKey, "car bytes");
  PutBlob("l1", blockstore::Store::kFile, kFileKey, "file bytes");
  PutBlob("other", blockstore::Store::kCar, kCarKey, "not this ledger");
  std::string file;
  grpc::Status s = Export("l1", kSealingKey, &file);
  ASSERT_TRUE(s.ok()) << s.error_message();
  KeySealer sealer = *KeySealer::Create(kSealingKey);
  absl::StatusOr<LedgerBundle> bundle = ReadBundle(file, &sealer);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->tenant, "t1");
  EXPECT_EQ(bundle->ledger, "l1");
  EXPECT_EQ(bundle->version, 2u);
  EXPECT_EQ(bundle->heads, std::vector<std::string>({"bafyentry2"}));
  ASSERT_EQ(bundle->entries.size(), 2u);
  EXPECT_EQ(bundle->entries[0].cid, "bafyentry1");
  EXPECT_EQ(bundle->entries[1].data, "data-bafyentry2");
  EXPECT_EQ(bundle->log_records.size(), 2u);
  ASSERT_EQ(bundle->blobs.size(), 2u);
  EXPECT_EQ(bundle->blobs[0].store, "car");
  EXPECT_EQ(bundle->blobs[0].bytes, "car bytes");
  EXPECT_EQ(bundle->blobs[1].store, "file");
  EXPECT_EQ(bundle->blobs[1].key, kFileKey);
  EXPECT_EQ(bundle->keys.size(), 2u);
}

TEST_F(ExportLedgerTest, RefusesWithSpecificCodes) {
  Commit("l1", "bafyentry1", 0);
  std::string file;
  EXPECT_EQ(Export("l1", kSealingKey, &file, /*authenticated=*/false).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Export("missing", kSealingKey, &file).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Export("l1", "short", &file).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Export("bad/id", kSealingKey, &file).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kiln::control
