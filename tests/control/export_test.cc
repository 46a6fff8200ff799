// ControlService.ExportLedger through a real gRPC channel over in-process metadata and block-store
// servers: the streamed bundle verifies offline and holds the ledger's state, every entry, the
// whole log, every blob and the keys; refusals carry specific codes.
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/cid.h"
#include "common/metrics.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "services/control/bundle.h"
#include "services/control/control_service.h"
#include "tests/control/control_deployment.h"
#include "tests/integration/mesh.h"
#include "tests/support/test_support.h"

namespace kiln::control {
namespace {

namespace mv1 = ::kiln::metadata::v1;

const std::string kCarKey = CidForSha256(kCodecFireproofCar, "car plaintext").ToString();
const std::string kFileKey = CidForSha256(kCodecRaw, "file plaintext").ToString();
const std::string kSealingKey(32, 's');

// One deployment: in-process metadata and block-store (memory) and a kiln-control over them.
using Deployment = ControlDeployment;

class ExportLedgerTest : public ::testing::Test {
 protected:
  void Commit(const std::string& ledger, const std::string& cid, uint64_t expected_version,
              std::vector<std::string> parents = {}) {
    grpc::ClientContext ctx;
    mv1::CommitRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_expected_version(expected_version);
    r.add_writers("w");
    mv1::MetaEntry* e = r.add_entries();
    e->set_cid(cid);
    e->set_data("data-" + cid);
    for (const auto& p : parents) e->add_parents(p);
    r.add_heads(cid);
    r.add_keys("zKey-" + cid);
    mv1::CommitResponse resp;
    grpc::Status s = from_.metadata_stub->Commit(&ctx, r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void PutBlob(const std::string& ledger, blockstore::Store store, const std::string& key,
               const std::string& data) {
    ASSERT_TRUE(from_.mesh.blocks().Put({{"t1", ledger}, store, key}, data, Sha256(data)).ok());
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
    auto reader = from_.stub->ExportLedger(&ctx, request);
    file->clear();
    v1::ExportLedgerResponse chunk;
    while (reader->Read(&chunk)) *file += chunk.data();
    return reader->Finish();
  }

  // Calls ImportLedger on the second deployment with `file` in pieces of 100 bytes.
  grpc::Status Import(const std::string& file, const std::string& key,
                      v1::ImportLedgerResponse* response, bool authenticated = true) {
    grpc::ClientContext ctx;
    if (authenticated) ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    auto writer = to_.stub->ImportLedger(&ctx, response);
    for (size_t i = 0; i == 0 || i < file.size(); i += 100) {
      v1::ImportLedgerRequest piece;
      if (i == 0) piece.set_sealing_key(key);
      piece.set_data(file.substr(i, 100));
      if (!writer->Write(piece)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // The ledger as a reader of `d` sees it, and its whole log.
  std::pair<mv1::GetLedgerResponse, mv1::ReadLogResponse> State(Deployment& d,
                                                                const std::string& ledger) {
    mv1::GetLedgerResponse state;
    {
      grpc::ClientContext ctx;
      mv1::GetLedgerRequest r;
      r.set_tenant("t1");
      r.set_ledger(ledger);
      r.set_include_entries(true);
      EXPECT_TRUE(d.metadata_stub->GetLedger(&ctx, r, &state).ok());
    }
    mv1::ReadLogResponse log;
    grpc::ClientContext ctx;
    mv1::ReadLogRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_from_seq(1);
    EXPECT_TRUE(d.metadata_stub->ReadLog(&ctx, r, &log).ok());
    return {state, log};
  }

  Deployment from_;
  Deployment to_;
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

TEST_F(ExportLedgerTest, ALedgerWhoseBlobsExceedTheLimitIsRefusedBeforeAnyIsRead) {
  Commit("l1", "bafyentry1", 0);
  PutBlob("l1", blockstore::Store::kCar, kCarKey, std::string(600, 'c'));
  PutBlob("l1", blockstore::Store::kFile, kFileKey, std::string(500, 'f'));
  auto channels = [](const std::string& target) {
    return ShardedChannels(testing::LoopbackChannel(target));
  };
  LedgerExporter small(channels(from_.mesh.metadata_target()),
                       channels(from_.mesh.blockstore_target()), absl::Seconds(10),
                       /*max_blob_bytes=*/1000);
  absl::StatusOr<LedgerBundle> refused = small.Collect({"t1", "l1"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("2 blobs total 1100 bytes"));
  LedgerExporter enough(channels(from_.mesh.metadata_target()),
                        channels(from_.mesh.blockstore_target()), absl::Seconds(10),
                        /*max_blob_bytes=*/1100);
  absl::StatusOr<LedgerBundle> bundle = enough.Collect({"t1", "l1"});
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->blobs.size(), 2u);
}

TEST_F(ExportLedgerTest, ImportIntoAnotherDeploymentGivesTheSameLedger) {
  Commit("l1", "bafyentry1", 0);
  Commit("l1", "bafyentry2", 1, {"bafyentry1"});
  PutBlob("l1", blockstore::Store::kCar, kCarKey, "car bytes");
  PutBlob("l1", blockstore::Store::kFile, kFileKey, "file bytes");
  std::string file;
  ASSERT_TRUE(Export("l1", kSealingKey, &file).ok());
  v1::ImportLedgerResponse imported;
  grpc::Status s = Import(file, kSealingKey, &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(imported.tenant(), "t1");
  EXPECT_EQ(imported.version(), 2u);
  EXPECT_EQ(imported.blobs(), 2u);

  auto [want_state, want_log] = State(from_, "l1");
  auto [got_state, got_log] = State(to_, "l1");
  EXPECT_TRUE(got_state.exists());
  EXPECT_EQ(got_state.state().SerializeAsString(), want_state.state().SerializeAsString());
  EXPECT_EQ(got_log.SerializeAsString(), want_log.SerializeAsString());  // chain kept as is
  for (auto [store, key, bytes] : {std::tuple{blockstore::Store::kCar, kCarKey, "car bytes"},
                                   std::tuple{blockstore::Store::kFile, kFileKey, "file bytes"}}) {
    auto blob = to_.mesh.blocks().Get({{"t1", "l1"}, store, key});
    ASSERT_TRUE(blob.ok()) << blob.status();
    EXPECT_EQ((*blob)->data(), bytes);
  }
  // A second import of the same bundle finds the ledger there.
  EXPECT_EQ(Import(file, kSealingKey, &imported).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ExportLedgerTest, ImportRefusesADamagedBundleNamingThePartAndWritesNothing) {
  Commit("l1", "bafyentry1", 0);
  PutBlob("l1", blockstore::Store::kCar, kCarKey, "car bytes");
  std::string file;
  ASSERT_TRUE(Export("l1", kSealingKey, &file).ok());
  file[file.find("car bytes")] ^= 1;
  v1::ImportLedgerResponse imported;
  grpc::Status s = Import(file, kSealingKey, &imported);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("blob car/" + kCarKey));
  EXPECT_FALSE(State(to_, "l1").first.exists());
  EXPECT_EQ(Import(file, std::string(32, 'x'), &imported).error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(Import(file, "short", &imported).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import(file, kSealingKey, &imported, /*authenticated=*/false).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace kiln::control
