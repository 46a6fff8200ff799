// The PostgreSQL backend against a real PostgreSQL server: URL checks, schema migration when
// replicas start together, compare-and-set between two stores (two replicas) on one database,
// and UNAVAILABLE while the database is down followed by reconnection without intervention.
#include "services/metadata/postgres_kv.h"

#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "common/hash_chain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/ledger_store.h"
#include "tests/metadata/commit_request.h"
#include "tests/support/fake_clock.h"
#include "tests/support/postgres_server.h"

namespace kiln::metadata {
namespace {

using kiln::testing::PostgresServer;
using ::testing::HasSubstr;

// Runs `sql` on `database` and returns the first field of the first row ("" when none).
std::string Query(const std::string& database, const std::string& sql) {
  std::string conninfo =
      "host=" + PostgresServer::Shared().socket_dir() + " user=kiln dbname=" + database;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(conn);
  return out;
}

class PostgresKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = server_.CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }

  std::unique_ptr<KvBackend> Open(const std::string& params = "") {
    auto kv = KvBackendRegistry().Create(server_.Url(db_, params));
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? *std::move(kv) : nullptr;
  }

  PostgresServer& server_ = PostgresServer::Shared();
  std::string db_;
  KeySealer sealer_ = *KeySealer::Create(std::string(32, 'k'));
  FakeClock clock_;
};

TEST_F(PostgresKvTest, PasswordInTheUrlIsRefused) {
  auto kv = KvBackendRegistry().Create("postgres://kiln:secret@127.0.0.1/kiln");
  EXPECT_EQ(kv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(kv.status().message()), HasSubstr("password"));
  EXPECT_THAT(std::string(kv.status().message()), ::testing::Not(HasSubstr("secret")));
  auto param = KvBackendRegistry().Create("postgres://kiln@127.0.0.1/kiln?password=secret");
  EXPECT_EQ(param.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PostgresKvTest, UnknownParameterOrNoDatabaseIsInvalidArgument) {
  EXPECT_EQ(KvBackendRegistry().Create(server_.Url(db_, "pool_sise=4")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KvBackendRegistry().Create("postgres://kiln@127.0.0.1/").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PostgresKvTest, ReplicasStartingTogetherMigrateTheSchemaOnce) {
  constexpr int kReplicas = 4;
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&] {
      auto kv = KvBackendRegistry().Create(server_.Url(db_));
      if (kv.ok()) ++opened;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), kReplicas);
  EXPECT_EQ(Query(db_, "SELECT count(*) FROM kiln_schema_version"), "1");
  EXPECT_EQ(Query(db_, "SELECT max(version) FROM kiln_schema_version"),
            std::to_string(kPostgresSchemaVersion));
  // Opening again changes nothing.
  ASSERT_NE(Open(), nullptr);
  EXPECT_EQ(Query(db_, "SELECT count(*) FROM kiln_schema_version"), "1");
}

TEST_F(PostgresKvTest, ANewerSchemaIsFailedPrecondition) {
  ASSERT_NE(Open(), nullptr);
  Query(db_, "INSERT INTO kiln_schema_version (version) VALUES (99)");
  auto kv = KvBackendRegistry().Create(server_.Url(db_));
  EXPECT_EQ(kv.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PostgresKvTest, LedgerRowsAreQueryableByTenantAndLedger) {
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  LedgerStore store(*kv, sealer_, clock_, nullptr);
  ASSERT_TRUE(store.Commit(CommitAt(0, "a")).ok());
  v1::CommitRequest second = CommitAt(1, "b");
  second.mutable_entries(0)->add_parents("a");
  second.add_keys("zKey");
  ASSERT_TRUE(store.Commit(second).ok());
  EXPECT_EQ(Query(db_, "SELECT version FROM kiln_ledgers WHERE tenant='t1' AND ledger='l1'"), "2");
  EXPECT_EQ(Query(db_, "SELECT count(*) FROM kiln_log WHERE tenant='t1' AND ledger='l1'"), "2");
  EXPECT_EQ(Query(db_, "SELECT string_agg(cid, ',' ORDER BY cid) FROM kiln_entries"), "a,b");
  EXPECT_EQ(Query(db_, "SELECT cid FROM kiln_references"), "a");
  EXPECT_EQ(Query(db_, "SELECT count(*) FROM kiln_keys"), "1");
  EXPECT_EQ(
      Query(db_, "SELECT count(*) FROM kiln_keys WHERE position('zKey'::bytea in record) > 0"), "0")
      << "a key stored in plaintext";
}

// The hash chain read back from PostgreSQL verifies, and a log row changed in the database (with
// plain SQL, as an intruder or a faulty restore would) is named by the verifier.
TEST_F(PostgresKvTest, ALogRowChangedInTheDatabaseIsNamedByTheVerifier) {
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  LedgerStore store(*kv, sealer_, clock_, nullptr);
  for (uint64_t v = 0; v < 5; ++v) {
    ASSERT_TRUE(store.Commit(CommitAt(v, "e" + std::to_string(v))).ok());
  }
  auto links_of = [](const v1::ReadLogResponse& log) {
    std::vector<ChainLink> links;
    for (int i = 0; i < log.records_size(); ++i) {
      links.push_back({log.records(i).seq(), log.records(i).prev_sha256(), log.raw_records(i)});
    }
    return links;
  };
  auto log = store.ReadLog({"t1", "l1"}, 1, 100);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->records_size(), 5);
  EXPECT_TRUE(VerifyHashChain(links_of(*log), "", log->head_sha256()).ok());

  // Change the writer name inside record 3's stored bytes ("w1" -> "w9").
  Query(db_,
        "UPDATE kiln_log SET record = decode(replace(encode(record, 'hex'), "
        "encode('w1'::bytea, 'hex'), encode('w9'::bytea, 'hex')), 'hex') "
        "WHERE tenant = 't1' AND ledger = 'l1' AND seq = 3 RETURNING seq");
  auto tampered = store.ReadLog({"t1", "l1"}, 1, 100);
  ASSERT_TRUE(tampered.ok()) << tampered.status();
  absl::Status s = VerifyHashChain(links_of(*tampered), "", tampered->head_sha256());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 3 "));
}

// Two stores on one database are two metadata replicas: their in-process locks are distinct, so
// only the database decides. Every round both commit at the same expected version.
TEST_F(PostgresKvTest, ConcurrentCommitsFromTwoReplicasHaveExactlyOneWinner) {
  auto kv_a = Open();
  auto kv_b = Open();
  ASSERT_NE(kv_a, nullptr);
  ASSERT_NE(kv_b, nullptr);
  LedgerStore a(*kv_a, sealer_, clock_, nullptr);
  LedgerStore b(*kv_b, sealer_, clock_, nullptr);
  constexpr int kRounds = 40;
  uint64_t version = 0;
  for (int round = 0; round < kRounds; ++round) {
    absl::Barrier* barrier = new absl::Barrier(2);
    absl::StatusOr<v1::CommitResponse> ra, rb;
    std::thread ta([&] {
      if (barrier->Block()) delete barrier;
      ra = a.Commit(CommitAt(version, "a" + std::to_string(round)));
    });
    std::thread tb([&] {
      if (barrier->Block()) delete barrier;
      rb = b.Commit(CommitAt(version, "b" + std::to_string(round)));
    });
    ta.join();
    tb.join();
    ASSERT_NE(ra.ok(), rb.ok()) << "round " << round << ": " << ra.status() << " / " << rb.status();
    const absl::Status& loser = ra.ok() ? rb.status() : ra.status();
    EXPECT_EQ(loser.code(), absl::StatusCode::kAborted) << loser;
    EXPECT_THAT(std::string(loser.message()), HasSubstr("version " + std::to_string(version + 1)));
    version = ra.ok() ? ra->version() : rb->version();
    ASSERT_EQ(version, static_cast<uint64_t>(round + 1));
  }
  auto log = a.ReadLog({"t1", "l1"}, 1, 1000);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->records_size(), kRounds);
  std::vector<ChainLink> links;
  for (int i = 0; i < log->records_size(); ++i) {
    links.push_back({log->records(i).seq(), log->records(i).prev_sha256(), log->raw_records(i)});
  }
  EXPECT_TRUE(VerifyHashChain(links, "", log->head_sha256()).ok());
}

TEST_F(PostgresKvTest, DatabaseDownIsUnavailableAndTheBackendReconnectsByItself) {
  auto kv = Open("statement_timeout_ms=2000&connect_timeout_s=2");
  ASSERT_NE(kv, nullptr);
  LedgerStore store(*kv, sealer_, clock_, nullptr);
  ASSERT_TRUE(store.Commit(CommitAt(0, "a")).ok());

  for (const char* mode : {"fast", "immediate"}) {
    SCOPED_TRACE(mode);
    ASSERT_TRUE(server_.Stop(mode).ok());
    auto version = store.Version({"t1", "l1"});
    EXPECT_EQ(version.status().code(), absl::StatusCode::kUnavailable) << version.status();
    auto commit = store.Commit(CommitAt(1, std::string("down-") + mode));
    EXPECT_EQ(commit.status().code(), absl::StatusCode::kUnavailable) << commit.status();
    ASSERT_TRUE(server_.Restart().ok());
    auto after = store.Version({"t1", "l1"});
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(*after, 1u) << "nothing was committed while the database was down";
  }
  auto commit = store.Commit(CommitAt(1, "b"));
  ASSERT_TRUE(commit.ok()) << commit.status();
  EXPECT_EQ(commit->version(), 2u);
}

}  // namespace
}  // namespace kiln::metadata
