// LedgerStore::ImportLedger: rebuilds every record of a ledger from its log, entries and keys.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/hash_chain.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "services/metadata/ledger_store.h"
#include "services/metadata/record_keys.h"

namespace kiln::metadata {

std::shared_ptr<const v1::WatchEvent> LedgerStore::ImportedEvent(
    const v1::LedgerHeader& header, const std::map<std::string, const v1::MetaEntry*>& entries,
    const v1::ImportLedgerRequest& request) {
  // What a new reader is served (heads, reader entries in rule 2 order, every key), as one
  // change to the imported version: a watcher bound while the ledger did not exist goes from
  // nothing to the imported state. Not marked as a snapshot: a stream's snapshot came first.
  auto event = std::make_shared<v1::WatchEvent>();
  absl::StatusOr<v1::WatchEvent> state = Snapshot(LedgerRef(request.tenant(), request.ledger()));
  if (state.ok() && state->version() == header.version()) {
    *event = *std::move(state);
    event->set_snapshot(false);
    return event;
  }
  // The read-back failed (the import is stored all the same): the heads' entries, from memory.
  event->set_version(header.version());
  *event->mutable_heads() = header.heads();
  for (const std::string& head : header.heads()) {
    auto it = entries.find(head);
    if (it != entries.end()) *event->add_entries() = *it->second;
  }
  *event->mutable_keys() = request.keys();
  return event;
}

absl::StatusOr<v1::ImportLedgerResponse> LedgerStore::ImportLedger(
    const v1::ImportLedgerRequest& request) {
  const LedgerRef ref(request.tenant(), request.ledger());
  if (request.raw_records().empty()) {
    return absl::InvalidArgumentError("an imported ledger has at least one log record");
  }
  std::vector<v1::LogRecord> records(request.raw_records_size());
  std::vector<ChainLink> links;
  for (int i = 0; i < request.raw_records_size(); ++i) {
    if (!records[i].ParseFromString(request.raw_records(i))) {
      return absl::DataLossError(absl::StrCat("log record ", i + 1, " does not parse"));
    }
    links.push_back({records[i].seq(), records[i].prev_sha256(), request.raw_records(i)});
  }
  if (records[0].seq() != 1) return absl::DataLossError("the log does not start at seq 1");
  KILN_RETURN_IF_ERROR(VerifyHashChain(links, "", ""));

  std::map<std::string, const v1::MetaEntry*> entries;
  for (const auto& e : request.entries()) entries[e.cid()] = &e;
  std::map<std::string, const std::string*> keys;  // fingerprint -> key
  for (const auto& k : request.keys()) keys[DigestBytes(Sha256(k))] = &k;

  const std::string header_key = LedgerPrefix(RecordType::kHeader, ref);
  const std::string entry_prefix = LedgerPrefix(RecordType::kEntry, ref);
  const std::string referenced_prefix = LedgerPrefix(RecordType::kReferenced, ref);
  const std::string key_prefix = LedgerPrefix(RecordType::kKey, ref);
  const std::string log_prefix = LedgerPrefix(RecordType::kLog, ref);
  const std::string aad = key_prefix;  // as LedgerStore::Commit seals keys
  std::vector<std::pair<std::string, std::string>> puts;
  std::map<std::string, v1::WriterHead> writer_heads;
  uint64_t key_count = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const v1::LogRecord& r = records[i];
    for (const std::string& cid : r.entry_cids()) {
      auto it = entries.find(cid);
      if (it == entries.end()) {
        return absl::DataLossError(
            absl::StrCat("log record ", r.seq(), " names entry ", cid, " that is not given"));
      }
      v1::StoredEntry stored;
      *stored.mutable_entry() = *it->second;
      stored.set_seq(r.seq());
      puts.emplace_back(entry_prefix + cid, stored.SerializeAsString());
      for (const auto& parent : it->second->parents()) {
        puts.emplace_back(referenced_prefix + parent, "");
      }
      // The log keeps a commit's writers, not each entry's: a single writer owns them all.
      if (r.writers_size() == 1) {
        v1::WriterHead& wh = writer_heads[r.writers(0)];
        if (wh.writer().empty()) wh.set_first_seq(r.seq());
        wh.set_writer(r.writers(0));
        wh.set_cid(cid);
        wh.set_seq(r.seq());
      }
    }
    for (const std::string& fp : r.key_fingerprints()) {
      auto it = keys.find(fp);
      if (it == keys.end()) {
        return absl::DataLossError(
            absl::StrCat("log record ", r.seq(), " names a key that is not given"));
      }
      v1::StoredKey stored;
      KILN_ASSIGN_OR_RETURN(std::string sealed, sealer_.Seal(*it->second, aad));
      stored.set_sealed(std::move(sealed));
      stored.set_seq(r.seq());
      puts.emplace_back(key_prefix + fp, stored.SerializeAsString());
      ++key_count;
    }
    puts.emplace_back(SeqKey(log_prefix, r.seq()), request.raw_records(static_cast<int>(i)));
  }
  v1::LedgerHeader header;
  header.set_version(records.back().seq());
  *header.mutable_heads() = records.back().heads();
  header.set_last_sha256(DigestBytes(Sha256(*request.raw_records().rbegin())));
  header.set_key_count(key_count);
  std::vector<v1::WriterHead> by_seq;
  for (auto& [writer, wh] : writer_heads) by_seq.push_back(wh);
  std::stable_sort(
      by_seq.begin(), by_seq.end(),
      [](const v1::WriterHead& a, const v1::WriterHead& b) { return a.seq() < b.seq(); });
  for (const auto& wh : by_seq) *header.add_writer_heads() = wh;
  if (header.writer_heads_size() > 64) {
    header.mutable_writer_heads()->DeleteSubrange(0, header.writer_heads_size() - 64);
  }
  puts.emplace_back(header_key, header.SerializeAsString());

  absl::MutexLock lock(&LockFor(ref));
  absl::Status written = kv_.WriteIf({header_key, std::nullopt}, puts);
  if (written.code() == absl::StatusCode::kAborted) {
    return absl::FailedPreconditionError(
        absl::StrCat("ledger ", ref.tenant(), "/", ref.ledger(),
                     " exists here; delete it first or import under another id"));
  }
  KILN_RETURN_IF_ERROR(written);
  if (on_commit_) on_commit_(ref, ImportedEvent(header, entries, request));
  v1::ImportLedgerResponse response;
  response.set_version(header.version());
  return response;
}

}  // namespace kiln::metadata
