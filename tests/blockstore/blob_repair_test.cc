// Mirror repair as an operator command: `kiln-admin blobs repair` against a kiln-blockstore running
// mirror(rocksdb://A, rocksdb://B) where B lacks blobs (an empty replacement store) fills B in;
// RepairLedgerBlobs refuses non-mirror backends and bad store names.
#include "services/blockstore/blob_repair.h"

#include <stdio.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <string>

#include "common/cid.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "services/blockstore/memory_backend.h"
#include "tests/blockstore/blockstore_test_client.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using kiln::testing::LoopbackChannel;
using kiln::testing::RunCommand;
using kiln::testing::ServiceProcess;

TEST(BlobRepairTest, KilnAdminBlobsRepairFillsTheStoreThatLacksBlobs) {
  kiln::testing::TempDir dir;
  const std::string first = dir.path() + "/first", second = dir.path() + "/second";
  std::map<std::string, std::string> blobs;  // key -> bytes
  {
    // Blobs that only the first store holds, as after the second was replaced by an empty one.
    auto store = CreateBlockBackend("rocksdb://" + first);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 3; ++i) {
      std::string data = "car bytes " + std::to_string(i);
      std::string key = CidForSha256(kCodecFireproofCar, data).ToString();
      ASSERT_TRUE((*store)->Put({{"t1", "l1"}, Store::kCar, key}, data, Sha256(data)).ok());
      blobs[key] = data;
    }
    ASSERT_TRUE((*store)->Put({{"t1", "l1"}, Store::kMeta, "main"}, "meta", Sha256("meta")).ok());
    blobs["main"] = "meta";
  }
  {
    ServiceProcess server(kiln::testing::BinaryPath("services/blockstore/kiln-blockstore"),
                          {"--backend=mirror(rocksdb://" + first + ", rocksdb://" + second + ")"});
    ASSERT_TRUE(server.Start().ok());
    const std::string admin = kiln::testing::BinaryPath("services/admin/kiln-admin") +
                              " blobs repair --target=" + server.grpc_target();
    std::string output;
    EXPECT_EQ(RunCommand(admin + " --tenant=t1 --ledger=l1", &output), 0) << output;
    EXPECT_EQ(output, "copied_to_first=0 copied_to_second=4 failed=0\n");
    // Nothing left to copy.
    EXPECT_EQ(RunCommand(admin + " --tenant=t1 --ledger=l1 --store=car", &output), 0) << output;
    EXPECT_EQ(output, "copied_to_first=0 copied_to_second=0 failed=0\n");
    // Usage errors and refusals exit non-zero with a message.
    EXPECT_EQ(RunCommand(admin + " --tenant=t1", &output), 2) << output;
    EXPECT_EQ(RunCommand(admin + " --tenant=t1 --ledger=l1 --store=blobs", &output), 1);
    EXPECT_NE(output.find("must be car, file, meta, wal"), std::string::npos) << output;
    server.Stop(SIGTERM);
  }
  // The second store now holds every blob on its own.
  auto second_store = CreateBlockBackend("rocksdb://" + second);
  ASSERT_TRUE(second_store.ok()) << second_store.status();
  for (const auto& [key, data] : blobs) {
    Store store = key == "main" ? Store::kMeta : Store::kCar;
    auto blob = (*second_store)->Get({{"t1", "l1"}, store, key});
    ASSERT_TRUE(blob.ok()) << key << ": " << blob.status();
    EXPECT_EQ((*blob)->data(), data);
  }
}

TEST(BlobRepairTest, BackendsWithoutCopiesAndBadRequestsAreRefused) {
  MemoryBlockBackend memory;
  admin::v1::RepairBlobsRequest request;
  request.set_tenant("t1");
  request.set_ledger("l1");
  EXPECT_EQ(RepairLedgerBlobs(memory, request).status().code(),
            absl::StatusCode::kFailedPrecondition);
  request.set_store("nope");
  EXPECT_EQ(RepairLedgerBlobs(memory, request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_store("car");
  request.set_ledger("");
  EXPECT_EQ(RepairLedgerBlobs(memory, request).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::blockstore
