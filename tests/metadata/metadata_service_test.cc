// The metadata service through a real gRPC channel: commits, validation and Watch streams.
#include "services/metadata/metadata_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "services/metadata/kv_backends.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MetadataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(1024); }

  void StartServer(size_t max_watch_queue) {
    MetadataServiceOptions options;
    options.max_watch_queue = max_watch_queue;
    service_ = std::make_unique<MetadataServiceImpl>(options, store_, hub_, executor_,
                                                     metrics_.registry());
    auto server = GrpcServer::Start(ServerOptions{}, {service_.get()}, metrics_);
    ASSERT_TRUE(server.ok());
    server_ = *std::move(server);
    stub_ = v1::MetadataService::NewStub(
        kiln::testing::LoopbackChannel("127.0.0.1:" + std::to_string(server_->port())));
  }

  void TearDown() override { server_->Shutdown(); }

  // Commits entry `cid` (with `payload` bytes of data) on top of the current heads.
  grpc::Status CommitNext(const std::string& cid, size_t payload = 10) {
    v1::CommitRequest r;
    r.set_tenant("t1");
    r.set_ledger("l1");
    r.add_writers("w");
    r.set_expected_version(version_);
    v1::MetaEntry* e = r.add_entries();
    e->set_cid(cid);
    e->set_data(std::string(payload, 'd'));
    r.add_heads(cid);
    r.add_keys("zKey-" + cid);
    grpc::ClientContext ctx;
    v1::CommitResponse resp;
    grpc::Status s = stub_->Commit(&ctx, r, &resp);
    if (s.ok()) version_ = resp.version();
    return s;
  }

  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> Watch(grpc::ClientContext* ctx,
                                                            uint64_t after,
                                                            const std::string& ledger = "l1") {
    v1::WatchRequest r;
    r.set_tenant("t1");
    r.set_ledger(ledger);
    r.set_after_version(after);
    return stub_->Watch(ctx, r);
  }

  // Reads the first event of a Watch from version 0 into `event`: it must be a snapshot.
  static ::testing::AssertionResult ReadSnapshot(grpc::ClientReader<v1::WatchEvent>& reader,
                                                 v1::WatchEvent* event) {
    if (!reader.Read(event)) return ::testing::AssertionFailure() << "the stream ended";
    if (!event->snapshot()) return ::testing::AssertionFailure() << "not a snapshot";
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<KvBackend> kv_ = *KvBackendRegistry().Create("memory://");
  KeySealer sealer_ = *KeySealer::Create(std::string(32, 'k'));
  WatchHub hub_;
  LedgerStore store_{*kv_, sealer_, RealClock::Get(),
                     [this](const LedgerRef& ledger, std::shared_ptr<const v1::WatchEvent> e) {
                       hub_.Publish(ledger, e);
                     }};
  BoundedExecutor executor_{{.threads = 4, .max_queued = 256}};
  Metrics metrics_;
  std::unique_ptr<MetadataServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::MetadataService::Stub> stub_;
  uint64_t version_ = 0;
};

TEST_F(MetadataServiceTest, StaleCommitIsAbortedWithTheCurrentVersion) {
  ASSERT_TRUE(CommitNext("a").ok());
  version_ = 0;
  grpc::Status s = CommitNext("b");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(s.error_message(), HasSubstr("version 1"));
}

TEST_F(MetadataServiceTest, MalformedRequestsAreInvalidArgumentNamingTheField) {
  v1::CommitRequest r;
  r.set_tenant("t1");
  grpc::ClientContext ctx;
  v1::CommitResponse resp;
  grpc::Status s = stub_->Commit(&ctx, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ledger"));

  r.set_ledger("l1");
  r.add_entries()->set_cid("a");  // no data
  grpc::ClientContext ctx2;
  s = stub_->Commit(&ctx2, r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("entries[0].data"));

  v1::ReadLogRequest log;
  log.set_tenant("t1");
  log.set_ledger("l1");
  grpc::ClientContext ctx3;
  v1::ReadLogResponse log_resp;
  EXPECT_EQ(stub_->ReadLog(&ctx3, log, &log_resp).error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

// The ids are parsed before the work is queued; a bad one must be INVALID_ARGUMENT naming the
// field, never another code (the parsed value is moved into the work afterwards).
TEST_F(MetadataServiceTest, LedgerRpcsRefuseABadIdAsInvalidArgument) {
  for (const std::string& ledger :
       {std::string(), std::string("no spaces"), std::string("../up")}) {
    v1::CreateLedgerRequest create;
    create.set_tenant("t1");
    create.set_ledger(ledger);
    grpc::ClientContext ctx;
    v1::CreateLedgerResponse created;
    grpc::Status s = stub_->CreateLedger(&ctx, create, &created);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "ledger '" << ledger << "'";
    EXPECT_THAT(s.error_message(), HasSubstr("ledger"));

    v1::DeleteLedgerRequest del;
    del.set_tenant("t1");
    del.set_ledger(ledger);
    grpc::ClientContext ctx2;
    v1::DeleteLedgerResponse deleted;
    s = stub_->DeleteLedger(&ctx2, del, &deleted);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "ledger '" << ledger << "'";
    EXPECT_THAT(s.error_message(), HasSubstr("ledger"));
  }
}

TEST_F(MetadataServiceTest, WatchStartsWithSnapshotThenStreamsEveryCommitInOrder) {
  ASSERT_TRUE(CommitNext("a").ok());
  grpc::ClientContext ctx;
  auto reader = Watch(&ctx, 0);
  v1::WatchEvent event;
  ASSERT_TRUE(ReadSnapshot(*reader, &event));
  EXPECT_EQ(event.version(), 1u);
  EXPECT_THAT(event.heads(), ElementsAre("a"));
  EXPECT_THAT(event.keys(), ElementsAre("zKey-a"));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(CommitNext("c" + std::to_string(100 + i)).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_FALSE(event.snapshot());
    EXPECT_EQ(event.version(), 2u + i);
    ASSERT_EQ(event.entries_size(), 1);
    EXPECT_EQ(event.entries(0).cid(), "c" + std::to_string(100 + i));
    EXPECT_THAT(event.keys(), ElementsAre("zKey-c" + std::to_string(100 + i)));
  }
  ctx.TryCancel();
}

TEST_F(MetadataServiceTest, EmptyLedgerSnapshotIsVersionZero) {
  grpc::ClientContext ctx;
  auto reader = Watch(&ctx, 0);
  v1::WatchEvent event;
  ASSERT_TRUE(ReadSnapshot(*reader, &event));
  EXPECT_EQ(event.version(), 0u);
  EXPECT_EQ(event.heads_size(), 0);
  ctx.TryCancel();
}

TEST_F(MetadataServiceTest, ResumeAfterAVersionHasNoGapsAndNoDuplicates) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(CommitNext("a" + std::to_string(i)).ok());
  grpc::ClientContext ctx;
  auto reader = Watch(&ctx, 4);
  // Commits racing with the watch's start must appear once, in order.
  for (int i = 10; i < 30; ++i) ASSERT_TRUE(CommitNext("a" + std::to_string(i)).ok());
  v1::WatchEvent event;
  for (uint64_t want = 5; want <= 30; ++want) {
    ASSERT_TRUE(reader->Read(&event)) << "stream ended before version " << want;
    ASSERT_EQ(event.version(), want);
    EXPECT_EQ(event.entries(0).cid(), "a" + std::to_string(want - 1));
  }
  ASSERT_TRUE(CommitNext("last").ok());
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.version(), 31u);
  ctx.TryCancel();
}

TEST_F(MetadataServiceTest, StalledWatcherIsCutOffWithResourceExhausted) {
  server_->Shutdown();
  StartServer(/*max_watch_queue=*/8);
  grpc::ClientContext ctx;
  auto reader = Watch(&ctx, 0);
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));  // snapshot: the watch is registered
  // The client stops reading; 32 MiB of events cannot all fit in transport buffers.
  for (int i = 0; i < 128; ++i) {
    ASSERT_TRUE(CommitNext("big" + std::to_string(i), 256 << 10).ok());
  }
  while (reader->Read(&event)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("after_version"));
  std::string text = prometheus::TextSerializer().Serialize(metrics_.registry().Collect());
  EXPECT_EQ(kiln::testing::MetricValue(text, "kiln_metadata_watchers_cut_off_total"), 1);
}

TEST_F(MetadataServiceTest, WatcherOfALedgerBeingImportedGetsTheImportedState) {
  // Ledger l1 written here is imported as l2 (its log, entries and keys, as kiln-control sends
  // them) while a watcher is bound to l2, which does not exist yet.
  for (const char* cid : {"a", "b", "c"}) ASSERT_TRUE(CommitNext(cid).ok());
  v1::ImportLedgerRequest import;
  import.set_tenant("t1");
  import.set_ledger("l2");
  {
    grpc::ClientContext ctx;
    v1::ReadLogRequest r;
    r.set_tenant("t1");
    r.set_ledger("l1");
    r.set_from_seq(1);
    v1::ReadLogResponse log;
    ASSERT_TRUE(stub_->ReadLog(&ctx, r, &log).ok());
    *import.mutable_raw_records() = log.raw_records();
  }
  {
    grpc::ClientContext ctx;
    v1::GetEntriesRequest r;
    r.set_tenant("t1");
    r.set_ledger("l1");
    for (const char* cid : {"a", "b", "c"}) r.add_cids(cid);
    v1::GetEntriesResponse entries;
    ASSERT_TRUE(stub_->GetEntries(&ctx, r, &entries).ok());
    *import.mutable_entries() = entries.entries();
  }
  for (const char* key : {"zKey-a", "zKey-b", "zKey-c"}) import.add_keys(key);

  grpc::ClientContext watch_ctx;
  // Without the import's event the stream would stay silent: end it rather than hang.
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = Watch(&watch_ctx, 0, "l2");
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));  // registered: the snapshot of a ledger that does not exist
  EXPECT_EQ(event.version(), 0u);

  grpc::ClientContext ctx;
  v1::ImportLedgerResponse imported;
  grpc::Status s = stub_->ImportLedger(&ctx, import, &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(imported.version(), 3u);

  ASSERT_TRUE(reader->Read(&event)) << "the watcher was not told of the import";
  EXPECT_FALSE(event.snapshot());
  EXPECT_EQ(event.version(), 3u);
  EXPECT_THAT(event.heads(), ElementsAre("c"));
  ASSERT_GE(event.entries_size(), 1);
  EXPECT_EQ(event.entries(0).cid(), "c");  // the head first, then the recent entries
  EXPECT_THAT(event.keys(), ::testing::UnorderedElementsAre("zKey-a", "zKey-b", "zKey-c"));

  // A commit on top of the imported ledger follows as the next version.
  v1::CommitRequest next;
  next.set_tenant("t1");
  next.set_ledger("l2");
  next.set_expected_version(3);
  next.add_writers("w");
  v1::MetaEntry* e = next.add_entries();
  e->set_cid("d");
  e->set_data("dd");
  e->add_parents("c");
  next.add_heads("d");
  grpc::ClientContext commit_ctx;
  v1::CommitResponse committed;
  ASSERT_TRUE(stub_->Commit(&commit_ctx, next, &committed).ok());
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.version(), 4u);
  EXPECT_THAT(event.heads(), ElementsAre("d"));
  watch_ctx.TryCancel();
}

}  // namespace
}  // namespace kiln::metadata
