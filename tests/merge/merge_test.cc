// The merge service through real gRPC channels: every rejection reason, and a property test that
// random DAGs applied in random orders through two merge instances converge.
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/cid.h"
#include "common/dag_cbor.h"
#include "common/meta_entry_proto.h"
#include "common/meta_event.h"
#include "common/multibase.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/merge/heads.h"
#include "tests/integration/mesh.h"
#include "tests/integration/random_dag.h"

namespace kiln::merge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

class MergeTest : public ::testing::Test {
 protected:
  // Stores a CAR with unique bytes in the block-store and returns its CID.
  Cid StoreCar(const std::string& seed) {
    std::string bytes = "car bytes of " + seed;
    Cid cid = CidForSha256(kCodecFireproofCar, bytes);
    auto r = mesh_.blocks().Put(
        blockstore::BlobKey{{"t1", ledger_}, blockstore::Store::kCar, cid.ToString()}, bytes,
        Sha256(bytes));
    EXPECT_TRUE(r.ok()) << r.status();
    return cid;
  }

  grpc::Status Put(int merge, const std::vector<metadata::v1::MetaEntry>& entries,
                   v1::PutMetaResponse* response = nullptr,
                   const std::vector<std::string>& keys = {"zKeyA"}) {
    v1::PutMetaRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger_);
    r.set_writer("writer-" + std::to_string(merge));
    for (const auto& e : entries) *r.add_entries() = e;
    for (const auto& k : keys) r.add_keys(k);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::PutMetaResponse local;
    return mesh_.merge(merge).PutMeta(&ctx, r, response != nullptr ? response : &local);
  }

  uint64_t Version() { return mesh_.Ledger("t1", ledger_).state().version(); }

  std::string ledger_ = "l1";
  kiln::testing::Mesh mesh_{2};
};

TEST_F(MergeTest, ValidEntryIsAcceptedAndBecomesTheHead) {
  EncodedMetaEntry e = EncodeMetaEntry({StoreCar("a")}, {});
  v1::PutMetaResponse resp;
  grpc::Status s = Put(0, {ToProto(e)}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.accepted(), ElementsAre(e.cid));
  EXPECT_THAT(resp.heads(), ElementsAre(e.cid));
  EXPECT_EQ(resp.version(), 1u);
  auto state = mesh_.Ledger("t1", ledger_).state();
  EXPECT_THAT(state.heads(), ElementsAre(e.cid));
  EXPECT_THAT(state.keys(), ElementsAre("zKeyA"));
  // A child replaces its parent as head; re-sending the parent changes nothing.
  EncodedMetaEntry child = EncodeMetaEntry({StoreCar("b")}, {*ParseCid(e.cid)});
  ASSERT_TRUE(Put(1, {ToProto(child)}, &resp).ok());
  EXPECT_THAT(resp.heads(), ElementsAre(child.cid));
  ASSERT_TRUE(Put(0, {ToProto(e)}, &resp).ok());
  EXPECT_THAT(resp.heads(), ElementsAre(child.cid));
  EXPECT_EQ(resp.version(), 2u);
}

TEST_F(MergeTest, EmptyKeysAreAccepted) {
  EncodedMetaEntry e = EncodeMetaEntry({StoreCar("k")}, {});
  EXPECT_TRUE(Put(0, {ToProto(e)}, nullptr, {}).ok());
}

// Each rejection names the entry and the reason, and leaves the ledger unchanged.
class MergeRejectionTest : public MergeTest {
 protected:
  void SetUp() override {
    base_ = EncodeMetaEntry({StoreCar("base")}, {});
    ASSERT_TRUE(Put(0, {ToProto(base_)}).ok());
    ASSERT_EQ(Version(), 1u);
  }

  void ExpectRejected(const metadata::v1::MetaEntry& bad, grpc::StatusCode code,
                      const std::string& reason) {
    grpc::Status s = Put(1, {ToProto(EncodeMetaEntry({StoreCar("fine")}, {})), bad});
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("entries[1]"));
    EXPECT_THAT(s.error_message(), HasSubstr(reason));
    auto state = mesh_.Ledger("t1", ledger_).state();
    EXPECT_EQ(state.version(), 1u) << "a rejected put changed the ledger";
    EXPECT_THAT(state.heads(), ElementsAre(base_.cid));
  }

  // A well-formed event block with the given dbMeta bytes, with its correct CID.
  static metadata::v1::MetaEntry EventWithDbMeta(const std::string& db_meta) {
    cbor::Value event =
        cbor::Value::Map({{"data", cbor::Value::Map({{"dbMeta", cbor::Value::Bytes(db_meta)}})},
                          {"parents", cbor::Value::Array({})}});
    std::string block = EncodeDagCbor(event);
    metadata::v1::MetaEntry e;
    e.set_cid(CidForSha256(kCodecDagCbor, block).ToString());
    e.set_data(MultibaseEncode(Multibase::kBase64Pad, block));
    return e;
  }

  EncodedMetaEntry base_;
};

TEST_F(MergeRejectionTest, CidThatDoesNotMatchTheEventBytes) {
  metadata::v1::MetaEntry bad = ToProto(EncodeMetaEntry({StoreCar("x")}, {}));
  bad.set_cid(base_.cid);
  ExpectRejected(bad, grpc::StatusCode::INVALID_ARGUMENT, "does not match");
}

TEST_F(MergeRejectionTest, CidThatIsNotACid) {
  metadata::v1::MetaEntry bad = ToProto(EncodeMetaEntry({StoreCar("x")}, {}));
  bad.set_cid("not-a-cid");
  ExpectRejected(bad, grpc::StatusCode::INVALID_ARGUMENT, "cid");
}

TEST_F(MergeRejectionTest, DataThatIsNotBase64Pad) {
  metadata::v1::MetaEntry bad = ToProto(EncodeMetaEntry({StoreCar("x")}, {}));
  bad.set_data("M!!!not base64!!!");
  ExpectRejected(bad, grpc::StatusCode::INVALID_ARGUMENT, "data");
}

TEST_F(MergeRejectionTest, ParentsThatDifferFromTheEvent) {
  metadata::v1::MetaEntry bad = ToProto(EncodeMetaEntry({StoreCar("x")}, {}));
  bad.add_parents(base_.cid);
  ExpectRejected(bad, grpc::StatusCode::INVALID_ARGUMENT, "parents");
}

TEST_F(MergeRejectionTest, DbMetaThatIsNotJson) {
  ExpectRejected(EventWithDbMeta("{not json"), grpc::StatusCode::INVALID_ARGUMENT, "dbMeta");
}

TEST_F(MergeRejectionTest, DbMetaWithoutCars) {
  ExpectRejected(EventWithDbMeta("{\"other\":1}"), grpc::StatusCode::INVALID_ARGUMENT, "cars");
}

TEST_F(MergeRejectionTest, EventThatIsNotDagCbor) {
  metadata::v1::MetaEntry bad;
  std::string block = "\xff\x00garbage";
  bad.set_cid(CidForSha256(kCodecDagCbor, block).ToString());
  bad.set_data(MultibaseEncode(Multibase::kBase64Pad, block));
  ExpectRejected(bad, grpc::StatusCode::INVALID_ARGUMENT, "");
}

TEST_F(MergeRejectionTest, CarMissingFromTheBlockStore) {
  Cid missing = CidForSha256(kCodecFireproofCar, "never uploaded");
  ExpectRejected(ToProto(EncodeMetaEntry({missing}, {})), grpc::StatusCode::FAILED_PRECONDITION,
                 missing.ToString());
}

TEST_F(MergeRejectionTest, EmptyTenantIsInvalidArgument) {
  v1::PutMetaRequest r;
  r.set_ledger(ledger_);
  *r.add_entries() = ToProto(EncodeMetaEntry({StoreCar("y")}, {}));
  grpc::ClientContext ctx;
  v1::PutMetaResponse resp;
  grpc::Status s = mesh_.merge(0).PutMeta(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant"));
}

TEST(AdvanceHeadsTest, ChildReplacesParentAndLateParentNeverBecomesHead) {
  EXPECT_THAT(AdvanceHeads({"a"}, {{"b", {"a"}}}, {}), ElementsAre("b"));
  // "a" arrives after "b" (which lists it): "a" is referenced, so it does not become a head.
  EXPECT_THAT(AdvanceHeads({"b"}, {{"a", {}}}, {"a"}), ElementsAre("b"));
  EXPECT_THAT(AdvanceHeads({"x"}, {{"b", {"a"}}, {"a", {}}}, {}), ElementsAre("b", "x"));
}

// Random DAGs from several writers, applied in random orders with duplicates through two merge
// instances at once, always end with the head set "all entries minus every entry's parents".
TEST(MergePropertyTest, RandomDagsInRandomOrdersThroughTwoMergesConverge) {
  kiln::testing::Mesh mesh(2);
  uint64_t base_seed = std::random_device{}();
  LOG(INFO) << "property test seed " << base_seed;
  for (int round = 0; round < 6; ++round) {
    std::mt19937_64 rng(base_seed + round);
    std::string ledger = "prop-" + std::to_string(round);
    // Build the DAG: each writer extends its own view, sometimes merging another writer's head.
    bool cars_stored = true;
    const std::vector<EncodedMetaEntry> nodes = kiln::testing::RandomWriterDag(rng, 45, [&](int i) {
      std::string car_bytes = "car " + ledger + " " + std::to_string(i);
      Cid car = CidForSha256(kCodecFireproofCar, car_bytes);
      cars_stored &= mesh.blocks()
                         .Put({{"t1", ledger}, blockstore::Store::kCar, car.ToString()}, car_bytes,
                              Sha256(car_bytes))
                         .ok();
      return car;
    });
    ASSERT_TRUE(cars_stored);
    const kiln::testing::DagCids dag = kiln::testing::CidsOf(nodes);

    // Arrival order: a shuffle plus ~25% duplicates, split over two merge instances.
    const std::vector<std::vector<int>> lanes =
        kiln::testing::ArrivalLanes(rng, static_cast<int>(nodes.size()), 12, 2);
    std::vector<std::thread> threads;
    for (int lane = 0; lane < 2; ++lane) {
      threads.emplace_back([&, lane] {
        for (int idx : lanes[lane]) {
          v1::PutMetaRequest r;
          r.set_tenant("t1");
          r.set_ledger(ledger);
          r.set_writer("lane" + std::to_string(lane));
          *r.add_entries() = ToProto(nodes[idx]);
          r.add_keys("zKey" + std::to_string(lane));
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          v1::PutMetaResponse resp;
          grpc::Status s = mesh.merge(lane).PutMeta(&ctx, r, &resp);
          EXPECT_TRUE(s.ok()) << "seed " << base_seed + round << ": " << s.error_message();
        }
      });
    }
    for (auto& t : threads) t.join();
    const std::vector<std::string>& cids = dag.all;
    auto ledger_state = mesh.Ledger("t1", ledger, cids);
    EXPECT_THAT(ledger_state.state().heads(), UnorderedElementsAreArray(dag.heads))
        << "seed " << base_seed + round;
    for (const auto& probe : ledger_state.probes()) {
      EXPECT_TRUE(probe.accepted()) << "seed " << base_seed + round << " lost " << probe.cid();
    }
    EXPECT_THAT(ledger_state.state().keys(), UnorderedElementsAreArray({"zKey0", "zKey1"}));
  }
}

}  // namespace
}  // namespace kiln::merge
