// LedgerStore on every KV backend: compare-and-set, idempotence, sealed keys, the log chain.
#include "services/metadata/ledger_store.h"

#include <memory>
#include <string>
#include <vector>

#include "common/hash_chain.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/metadata/kv_backends.h"
#include "services/metadata/record_keys.h"
#include "tests/support/fake_clock.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace kiln::metadata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::MetaEntry Entry(const std::string& cid, std::vector<std::string> parents = {}) {
  v1::MetaEntry e;
  e.set_cid(cid);
  for (auto& p : parents) e.add_parents(p);
  e.set_data("M" + cid);
  return e;
}

v1::CommitRequest Commit(uint64_t expected, std::vector<v1::MetaEntry> entries,
                         std::vector<std::string> heads, std::vector<std::string> keys = {}) {
  v1::CommitRequest r;
  r.set_tenant("t1");
  r.set_ledger("l1");
  r.add_writers("w1");
  r.set_expected_version(expected);
  for (auto& e : entries) *r.add_entries() = e;
  for (auto& h : heads) r.add_heads(h);
  for (auto& k : keys) r.add_keys(k);
  return r;
}

class LedgerStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string url = GetParam();
    if (url == "rocksdb") url = "rocksdb://" + dir_.path() + "/db";
    if (url == "postgres") {
      auto& server = kiln::testing::PostgresServer::Shared();
      auto db = server.CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      url = server.Url(*db);
    }
    auto kv = KvBackendRegistry().Create(url);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = *std::move(kv);
    OpenStore(LedgerStore::kDefaultRecentEntries);
  }

  void OpenStore(size_t recent_entries) {
    store_ = std::make_unique<LedgerStore>(
        *kv_, sealer_, clock_,
        [this](const LedgerRef&, std::shared_ptr<const v1::WatchEvent> e) {
          published_.push_back(*e);
        },
        recent_entries);
  }

  std::vector<std::string> Served() {
    std::vector<std::string> served;
    v1::GetLedgerResponse state = State();
    for (const auto& e : state.state().head_entries()) served.push_back(e.cid());
    return served;
  }

  v1::GetLedgerResponse State(bool entries = true) {
    v1::GetLedgerRequest r;
    r.set_tenant("t1");
    r.set_ledger("l1");
    r.set_include_entries(entries);
    auto s = store_->GetLedger(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  kiln::testing::TempDir dir_;
  std::unique_ptr<KvBackend> kv_;
  KeySealer sealer_ = *KeySealer::Create(std::string(32, 'k'));
  FakeClock clock_;
  std::unique_ptr<LedgerStore> store_;
  std::vector<v1::WatchEvent> published_;
};

TEST_P(LedgerStoreTest, NewLedgerIsVersionZeroAndEmpty) {
  auto s = State();
  EXPECT_EQ(s.state().version(), 0u);
  EXPECT_TRUE(s.state().heads().empty());
  EXPECT_TRUE(s.state().keys().empty());
}

TEST_P(LedgerStoreTest, CommitAdvancesVersionHeadsEntriesAndKeys) {
  auto r = store_->Commit(Commit(0, {Entry("a")}, {"a"}, {"zKey1"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version(), 1u);
  EXPECT_EQ(r->record().seq(), 1u);
  EXPECT_THAT(r->record().entry_cids(), ElementsAre("a"));
  auto s = State();
  EXPECT_EQ(s.state().version(), 1u);
  EXPECT_THAT(s.state().heads(), ElementsAre("a"));
  ASSERT_EQ(s.state().head_entries_size(), 1);
  EXPECT_EQ(s.state().head_entries(0).data(), "Ma");
  EXPECT_THAT(s.state().keys(), ElementsAre("zKey1"));
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].version(), 1u);
  EXPECT_THAT(published_[0].keys(), ElementsAre("zKey1"));
}

TEST_P(LedgerStoreTest, StaleVersionIsAbortedAndChangesNothing) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"})).ok());
  auto stale = store_->Commit(Commit(0, {Entry("b")}, {"b"}));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("version 1"));
  EXPECT_THAT(State().state().heads(), ElementsAre("a"));
}

TEST_P(LedgerStoreTest, CommitWithNothingNewIsANoop) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"}, {"zK"})).ok());
  auto again = store_->Commit(Commit(1, {Entry("a")}, {"a"}, {"zK"}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version(), 1u);
  EXPECT_FALSE(again->has_record());
  EXPECT_EQ(published_.size(), 1u);
}

TEST_P(LedgerStoreTest, NewReadersGetEachRecentWritersLatestEntryBesideTheHeads) {
  // No recent-entry window: only the heads and each writer's latest entry. w1 writes "a"; w2 has
  // received "a" and lists it as a parent of "b" (perhaps before merging it). Heads are {"b"},
  // but a new reader is also given "a", w1's latest entry, after the heads.
  OpenStore(0);
  v1::CommitRequest first = Commit(0, {Entry("a")}, {"a"});
  first.set_writers(0, "w1");
  ASSERT_TRUE(store_->Commit(first).ok());
  v1::CommitRequest second = Commit(1, {Entry("b", {"a"})}, {"b"});
  second.set_writers(0, "w2");
  ASSERT_TRUE(store_->Commit(second).ok());
  EXPECT_THAT(State().state().heads(), ElementsAre("b"));
  EXPECT_THAT(Served(), ElementsAre("b", "a"));
  // Once w1 writes again, its older entry is no longer served; w2's latest "b" now has w1's
  // commits on both sides, so it comes before the heads (see the next test).
  v1::CommitRequest third = Commit(2, {Entry("c", {"b"})}, {"c"});
  third.set_writers(0, "w1");
  ASSERT_TRUE(store_->Commit(third).ok());
  EXPECT_THAT(Served(), ElementsAre("b", "c"));
}

TEST_P(LedgerStoreTest, AWritersLatestEntryThatOthersCommittedAroundIsServedBeforeTheHeads) {
  // w2 writes "x"; w1 writes "a" while w2 is still writing; w2 then writes "b" naming "a" (it
  // received "a", and may have put its CARs in its CAR log before merging it into its clock). A
  // reader that loaded "b" first would skip "a", so "a" comes before the heads. w3 starts only
  // after "b": its parent "b" is served after the heads, as in the test above.
  OpenStore(0);
  auto commit = [&](uint64_t version, v1::MetaEntry e, const std::string& writer) {
    v1::CommitRequest r = Commit(version, {e}, {e.cid()});
    r.set_writers(0, writer);
    ASSERT_TRUE(store_->Commit(r).ok());
  };
  commit(0, Entry("x"), "w2");
  commit(1, Entry("a", {"x"}), "w1");
  commit(2, Entry("b", {"a"}), "w2");
  EXPECT_THAT(State().state().heads(), ElementsAre("b"));
  EXPECT_THAT(Served(), ElementsAre("a", "b"));
  commit(3, Entry("c", {"b"}), "w3");
  EXPECT_THAT(Served(), ElementsAre("a", "c", "b"));
}

TEST_P(LedgerStoreTest, NewReadersGetTheNewestEntriesNewestFirstBesideTheHeads) {
  // One writer chains five commits (each names the previous): one head, but a new reader gets the
  // head (and the writer's latest, the same entry) and then the rest of the newest three entries
  // (the window), newest first, and nothing older.
  OpenStore(3);
  std::vector<std::string> cids = {"e1", "e2", "e3", "e4", "e5"};
  for (size_t i = 0; i < cids.size(); ++i) {
    std::vector<std::string> parents;
    if (i > 0) parents.push_back(cids[i - 1]);
    ASSERT_TRUE(store_->Commit(Commit(i, {Entry(cids[i], parents)}, {cids[i]})).ok());
  }
  EXPECT_THAT(State().state().heads(), ElementsAre("e5"));
  EXPECT_THAT(Served(), ElementsAre("e5", "e4", "e3"));
  // A commit of two entries counts two; keys-only commits add none.
  ASSERT_TRUE(
      store_->Commit(Commit(5, {Entry("f1", {"e5"}), Entry("f2", {"e5"})}, {"f1", "f2"})).ok());
  ASSERT_TRUE(store_->Commit(Commit(6, {}, {"f1", "f2"}, {"zOnlyAKey"})).ok());
  EXPECT_THAT(Served(), ElementsAre("f1", "f2", "e5"));
  // The watch snapshot starts from the same entries.
  auto snapshot = store_->Snapshot({"t1", "l1"});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  ASSERT_EQ(snapshot->entries_size(), 3);
  EXPECT_EQ(snapshot->entries(0).cid(), "f1");
}

TEST_P(LedgerStoreTest, APollingReaderWithACursorGetsOnlyWhatFollowedIt) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"}, {"zK1"})).ok());
  ASSERT_TRUE(store_->Commit(Commit(1, {Entry("b", {"a"})}, {"b"})).ok());
  ASSERT_TRUE(store_->Commit(Commit(2, {Entry("c", {"b"})}, {"c"}, {"zK2"})).ok());
  auto read = [&](uint64_t after) {
    v1::GetLedgerRequest r;
    r.set_tenant("t1");
    r.set_ledger("l1");
    r.set_include_entries(true);
    r.set_entries_after_version(after);
    auto s = store_->GetLedger(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  };
  auto since1 = read(1);
  EXPECT_TRUE(since1.incremental());
  std::vector<std::string> cids;
  for (const auto& e : since1.state().head_entries()) cids.push_back(e.cid());
  EXPECT_THAT(cids, ElementsAre("b", "c"));  // oldest first
  EXPECT_THAT(since1.state().keys(), ElementsAre("zK2"));
  EXPECT_EQ(since1.state().version(), 3u);
  // Up to date: nothing at all.
  auto since3 = read(3);
  EXPECT_TRUE(since3.incremental());
  EXPECT_EQ(since3.state().head_entries_size(), 0);
  EXPECT_EQ(since3.state().keys_size(), 0);
  // A cursor from the future (another ledger with the same name, a restored backup): everything.
  auto future = read(9);
  EXPECT_FALSE(future.incremental());
  EXPECT_EQ(future.state().head_entries_size(), 3);
  EXPECT_EQ(future.state().keys_size(), 2);
}

TEST_P(LedgerStoreTest, ProbesReportAcceptedAndReferencedCids) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("c", {"b"})}, {"c"})).ok());
  v1::GetLedgerRequest r;
  r.set_tenant("t1");
  r.set_ledger("l1");
  r.add_probe_cids("c");
  r.add_probe_cids("b");
  r.add_probe_cids("x");
  auto s = store_->GetLedger(r);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->probes_size(), 3);
  EXPECT_TRUE(s->probes(0).accepted());
  EXPECT_FALSE(s->probes(0).referenced());
  EXPECT_FALSE(s->probes(1).accepted());
  EXPECT_TRUE(s->probes(1).referenced());
  EXPECT_FALSE(s->probes(2).accepted() || s->probes(2).referenced());
}

TEST_P(LedgerStoreTest, KeysAreNeverStoredInPlaintext) {
  std::string secret = "zSuperSecretKeyMaterial";
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"}, {secret})).ok());
  auto rows = kv_->Scan(std::string(1, '\0'), std::string(1, '\x7f'), 1000);
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  for (const auto& [k, v] : *rows) {
    EXPECT_EQ(k.find(secret), std::string::npos);
    EXPECT_EQ(v.find(secret), std::string::npos) << "plaintext key in a stored value";
  }
  // Another key-encryption key cannot open them.
  KeySealer other = *KeySealer::Create(std::string(32, 'x'));
  LedgerStore wrong(*kv_, other, clock_, nullptr);
  v1::GetLedgerRequest r;
  r.set_tenant("t1");
  r.set_ledger("l1");
  r.set_include_entries(true);
  EXPECT_EQ(wrong.GetLedger(r).status().code(), absl::StatusCode::kDataLoss);
}

// KEK rotation: with the new KEK current and the old one previous, every key still opens and
// ResealKeys moves them all to the new KEK, after which the new KEK alone opens them; the log
// (which holds key fingerprints, not sealed bytes) still verifies.
absl::StatusOr<std::vector<std::string>> KeysOf(LedgerStore& store, const std::string& ledger) {
  v1::GetLedgerRequest r;
  r.set_tenant("t1");
  r.set_ledger(ledger);
  r.set_include_entries(true);
  auto s = store.GetLedger(r);
  if (!s.ok()) return s.status();
  return std::vector<std::string>(s->state().keys().begin(), s->state().keys().end());
}

TEST_P(LedgerStoreTest, ResealKeysMovesEveryKeyToTheNewKek) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"}, {"zK1", "zK2"})).ok());
  v1::CommitRequest other = Commit(0, {Entry("x")}, {"x"}, {"zK3"});
  other.set_ledger("l2");
  ASSERT_TRUE(store_->Commit(other).ok());
  EXPECT_EQ(*store_->ResealKeys(), 0u) << "no previous KEK: nothing to do";

  KeySealer rotating = *KeySealer::Create(std::string(32, 'n'), {std::string(32, 'k')});
  LedgerStore during(*kv_, rotating, clock_, nullptr);
  auto keys = KeysOf(during, "l1");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_THAT(*keys, ::testing::UnorderedElementsAre("zK1", "zK2"));
  auto resealed = during.ResealKeys();
  ASSERT_TRUE(resealed.ok()) << resealed.status();
  EXPECT_EQ(*resealed, 3u);
  EXPECT_EQ(*during.ResealKeys(), 0u) << "already under the new KEK";

  KeySealer new_only = *KeySealer::Create(std::string(32, 'n'));
  LedgerStore after(*kv_, new_only, clock_, nullptr);
  EXPECT_THAT(*KeysOf(after, "l1"), ::testing::UnorderedElementsAre("zK1", "zK2"));
  EXPECT_THAT(*KeysOf(after, "l2"), ::testing::ElementsAre("zK3"));
  // The old KEK alone no longer opens anything.
  LedgerStore old_only(*kv_, sealer_, clock_, nullptr);
  EXPECT_EQ(KeysOf(old_only, "l1").status().code(), absl::StatusCode::kDataLoss);
}

TEST_P(LedgerStoreTest, LogChainVerifiesAndNamesTheFirstAlteredRecord) {
  std::vector<std::string> heads;
  for (int i = 0; i < 5; ++i) {
    std::string cid = "e" + std::to_string(i);
    std::vector<std::string> parents = heads;
    ASSERT_TRUE(store_->Commit(Commit(i, {Entry(cid, parents)}, {cid})).ok());
    heads = {cid};
    clock_.Advance(absl::Seconds(1));
  }
  auto log = store_->ReadLog({"t1", "l1"}, 1, 100);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->records_size(), 5);
  EXPECT_EQ(log->records(4).unix_micros() - log->records(0).unix_micros(), 4000000);
  auto links = [&](const v1::ReadLogResponse& l) {
    std::vector<ChainLink> out;
    for (int i = 0; i < l.records_size(); ++i) {
      out.push_back({l.records(i).seq(), l.records(i).prev_sha256(), l.raw_records(i)});
    }
    return out;
  };
  EXPECT_TRUE(VerifyHashChain(links(*log), "", log->head_sha256()).ok());

  // Alter record 3 in storage (its writer field) and verify again.
  auto rows = kv_->Scan("G", "H", 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 5u);
  std::string altered = (*rows)[2].second;
  size_t pos = altered.find("w1");
  ASSERT_NE(pos, std::string::npos);
  altered[pos + 1] = '9';
  ASSERT_TRUE(kv_->Write({{(*rows)[2].first, altered}}).ok());
  auto tampered = store_->ReadLog({"t1", "l1"}, 1, 100);
  ASSERT_TRUE(tampered.ok());
  absl::Status s = VerifyHashChain(links(*tampered), "", tampered->head_sha256());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("log record 3 "));
}

TEST_P(LedgerStoreTest, EventsAfterReplaysEveryLaterCommitWithKeys) {
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("a")}, {"a"}, {"zK1"})).ok());
  ASSERT_TRUE(store_->Commit(Commit(1, {Entry("b", {"a"})}, {"b"}, {"zK2"})).ok());
  ASSERT_TRUE(store_->Commit(Commit(2, {Entry("c", {"b"})}, {"c"})).ok());
  auto events = store_->EventsAfter({"t1", "l1"}, 1, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].version(), 2u);
  EXPECT_THAT((*events)[0].heads(), ElementsAre("b"));
  EXPECT_EQ((*events)[0].entries(0).cid(), "b");
  EXPECT_THAT((*events)[0].keys(), ElementsAre("zK2"));
  EXPECT_EQ((*events)[1].version(), 3u);
  auto snapshot = store_->Snapshot({"t1", "l1"});
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(snapshot->snapshot());
  EXPECT_EQ(snapshot->version(), 3u);
  EXPECT_EQ(snapshot->keys_size(), 2);
}

TEST_P(LedgerStoreTest, ListLedgersPagesInIdOrderPerTenant) {
  for (const char* l : {"b", "a", "c"}) {
    v1::CommitRequest r = Commit(0, {Entry("x")}, {"x"});
    r.set_ledger(l);
    ASSERT_TRUE(store_->Commit(r).ok());
  }
  v1::CommitRequest other = Commit(0, {Entry("x")}, {"x"});
  other.set_tenant("t2");
  ASSERT_TRUE(store_->Commit(other).ok());
  auto page1 = store_->ListLedgers("t1", "", 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->ledgers_size(), 2);
  EXPECT_EQ(page1->ledgers(0).ledger(), "a");
  EXPECT_EQ(page1->ledgers(1).ledger(), "b");
  EXPECT_EQ(page1->next_page_token(), "b");
  auto page2 = store_->ListLedgers("t1", "b", 2);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->ledgers_size(), 1);
  EXPECT_EQ(page2->ledgers(0).ledger(), "c");
  EXPECT_EQ(page2->next_page_token(), "");
}

// Every record key of (tenant, ledger), read from the backend itself.
std::vector<std::string> RecordsOf(KvBackend& kv, const std::string& tenant,
                                   const std::string& ledger) {
  auto rows = kv.Scan(std::string(1, '\0'), std::string(1, '\x7f'), 1000000);
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> out;
  for (const auto& [key, value] : *rows) {
    auto d = DecodeRecordKey(key);
    if (d.ok() && d->tenant == tenant && d->ledger == ledger) out.push_back(key);
  }
  return out;
}

TEST_P(LedgerStoreTest, DeleteLedgerRemovesEveryRecordOfThatLedgerOnly) {
  v1::CommitRequest first = Commit(0, {Entry("x")}, {"x"});
  first.add_keys("zKey1");
  ASSERT_TRUE(store_->Commit(first).ok());
  ASSERT_TRUE(store_->Commit(Commit(1, {Entry("y", {"x"})}, {"y"})).ok());
  v1::CommitRequest neighbour = Commit(0, {Entry("x")}, {"x"});
  neighbour.set_ledger("l10");  // shares a prefix with "l1" as a string
  ASSERT_TRUE(store_->Commit(neighbour).ok());
  // Header, two entries, a reference, a key, two log records.
  ASSERT_EQ(RecordsOf(*kv_, "t1", "l1").size(), 7u);

  auto deleted = store_->DeleteLedger({"t1", "l1"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->existed());
  EXPECT_EQ(deleted->version(), 2u);
  EXPECT_THAT(RecordsOf(*kv_, "t1", "l1"), ::testing::IsEmpty());
  EXPECT_EQ(RecordsOf(*kv_, "t1", "l10").size(), 3u);  // header, entry, log record
  EXPECT_EQ(State().state().version(), 0u);
  EXPECT_FALSE(State().exists());

  auto again = store_->DeleteLedger({"t1", "l1"});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->existed());
  // Written again, the ledger starts at version 1 with a fresh log.
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("z")}, {"z"})).ok());
  auto log = store_->ReadLog({"t1", "l1"}, 1, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->records_size(), 1);
  EXPECT_EQ(log->records(0).prev_sha256(), "");
}

TEST_P(LedgerStoreTest, CreatedLedgerIsListedAtVersionZeroAndCommitsNormally) {
  auto created = store_->CreateLedger({"t1", "l1"});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  EXPECT_FALSE(*store_->CreateLedger({"t1", "l1"}));
  EXPECT_TRUE(State().exists());
  auto listed = store_->ListLedgers("t1", "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->ledgers_size(), 1);
  EXPECT_EQ(listed->ledgers(0).version(), 0u);
  ASSERT_TRUE(store_->Commit(Commit(0, {Entry("x")}, {"x"})).ok());
  EXPECT_EQ(State().state().version(), 1u);
}

TEST_P(LedgerStoreTest, ListTenantsPagesOverTenantsWithLedgers) {
  for (const char* t : {"tb", "ta", "tc"}) {
    for (const char* l : {"l1", "l2"}) {
      v1::CommitRequest r = Commit(0, {Entry("x")}, {"x"});
      r.set_tenant(t);
      r.set_ledger(l);
      ASSERT_TRUE(store_->Commit(r).ok());
    }
  }
  auto page1 = store_->ListTenants("", 2);
  ASSERT_TRUE(page1.ok()) << page1.status();
  EXPECT_THAT(page1->tenants(), ::testing::ElementsAre("ta", "tb"));
  EXPECT_EQ(page1->next_page_token(), "tb");
  auto page2 = store_->ListTenants("tb", 2);
  ASSERT_TRUE(page2.ok());
  EXPECT_THAT(page2->tenants(), ::testing::ElementsAre("tc"));
  EXPECT_EQ(page2->next_page_token(), "");
}

std::string BackendName(size_t index) {
  static const char* const kNames[] = {"Memory", "RocksDb", "Postgres"};
  return kNames[index];
}

INSTANTIATE_TEST_SUITE_P(AllBackends, LedgerStoreTest,
                         ::testing::Values("memory://", "rocksdb", "postgres"),
                         [](const auto& info) { return BackendName(info.index); });

}  // namespace
}  // namespace kiln::metadata
