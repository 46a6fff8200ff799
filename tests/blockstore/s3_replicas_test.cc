// Two kiln-blockstore processes on one s3rver bucket with no shard list (how the blobs-s3
// deployment runs them): a blob put through one is served by the other after the first is
// SIGKILLed, and the gRPC path reports the store being down as UNAVAILABLE. s3rver does not verify
// signatures (tests/common/sigv4_test.cc proves them).
#include <signal.h>

#include <memory>
#include <string>

#include "common/cid.h"
#include "gtest/gtest.h"
#include "tests/blockstore/blockstore_test_client.h"
#include "tests/support/s3rver.h"
#include "tests/support/test_support.h"

namespace kiln::blockstore {
namespace {

using kiln::testing::LoopbackChannel;
using kiln::testing::S3rver;
using kiln::testing::ServiceProcess;
using testing::GetBlob;
using testing::PutBlob;
using testing::Ref;

class S3ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    S3rver::SetCredentialsInEnvironment();  // inherited by the block-store processes
    auto server = S3rver::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    s3_ = *std::move(server);
    for (auto& replica : replicas_) {
      replica = std::make_unique<ServiceProcess>(
          kiln::testing::BinaryPath("services/blockstore/kiln-blockstore"),
          std::vector<std::string>{"--backend=" + s3_->BackendUrl("blobs", "&max_attempts=2")});
      ASSERT_TRUE(replica->Start().ok());
    }
  }

  std::unique_ptr<v1::BlockStoreService::Stub> Stub(int i) {
    return v1::BlockStoreService::NewStub(LoopbackChannel(replicas_[i]->grpc_target()));
  }

  std::unique_ptr<S3rver> s3_;
  std::unique_ptr<ServiceProcess> replicas_[2];
};

TEST_F(S3ReplicasTest, ABlobPutThroughOneReplicaIsServedByTheOtherAfterTheFirstIsKilled) {
  std::string data(3 << 20, 'k');
  std::string key = CidForSha256(kCodecFireproofCar, data).ToString();
  auto first = Stub(0);
  ASSERT_TRUE(PutBlob(*first, Ref(key), data).ok());
  replicas_[0]->Stop(SIGKILL);
  auto second = Stub(1);
  std::string got;
  grpc::Status status = GetBlob(*second, Ref(key), &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(got == data);
  // Idempotent through the other replica too.
  v1::PutResponse response;
  ASSERT_TRUE(PutBlob(*second, Ref(key), data, &response).ok());
  EXPECT_FALSE(response.created());
}

TEST_F(S3ReplicasTest, StoreDownIsUnavailableOverGrpcAndServesAgainWhenBack) {
  std::string data = "blob while the store is down";
  std::string key = CidForSha256(kCodecFireproofCar, data).ToString();
  auto stub = Stub(1);
  s3_->Kill();
  grpc::Status status = PutBlob(*stub, Ref(key), data);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  ASSERT_TRUE(s3_->Restart().ok());
  std::string got;
  EXPECT_EQ(GetBlob(*stub, Ref(key), &got).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(PutBlob(*stub, Ref(key), data).ok());
  ASSERT_TRUE(GetBlob(*Stub(0), Ref(key), &got).ok());
  EXPECT_EQ(got, data);
}

}  // namespace
}  // namespace kiln::blockstore
