#include "services/metadata/ledger_store.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/varint.h"
#include "services/metadata/reader_order.h"
#include "services/metadata/record_keys.h"

namespace kiln::metadata {
namespace {

constexpr RecordType kHeader = RecordType::kHeader;
constexpr RecordType kEntry = RecordType::kEntry;
constexpr RecordType kReferenced = RecordType::kReferenced;
constexpr RecordType kKey = RecordType::kKey;
constexpr RecordType kLog = RecordType::kLog;

// Writers whose latest entry is kept for new readers (see LedgerState.head_entries).
constexpr size_t kMaxWriterHeads = 64;
// The furthest a polling reader's cursor may lag for an incremental answer (GetLedgerRequest).
constexpr uint64_t kMaxCursorGap = 1000;

std::string KeyAad(const LedgerRef& ref) { return LedgerPrefix(kKey, ref); }

template <typename Proto>
absl::StatusOr<Proto> ParseRecord(const std::string& bytes, absl::string_view what) {
  Proto p;
  if (!p.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("stored ", what, " record is damaged"));
  }
  return p;
}

absl::Status StaleVersion(uint64_t current, uint64_t expected) {
  return absl::AbortedError(absl::StrCat("ledger is at version ", current, ", not the expected ",
                                         expected, "; re-read and retry"));
}

}  // namespace

LedgerStore::LedgerStore(KvBackend& kv, const KeySealer& sealer, const Clock& clock,
                         CommitListener on_commit, size_t recent_entries)
    : kv_(kv),
      sealer_(sealer),
      clock_(clock),
      on_commit_(std::move(on_commit)),
      recent_entries_(recent_entries) {}

absl::Mutex& LedgerStore::LockFor(const LedgerRef& ref) {
  return locks_[absl::HashOf(ref) % locks_.size()];
}

absl::StatusOr<v1::LedgerHeader> LedgerStore::ReadHeader(const LedgerRef& ref,
                                                         std::optional<std::string>* raw) {
  KILN_ASSIGN_OR_RETURN(auto bytes, kv_.Get(LedgerPrefix(kHeader, ref)));
  if (raw != nullptr) *raw = bytes;
  if (!bytes.has_value()) return v1::LedgerHeader();
  return ParseRecord<v1::LedgerHeader>(*bytes, "ledger header");
}

absl::StatusOr<uint64_t> LedgerStore::Version(const LedgerRef& ref) {
  KILN_ASSIGN_OR_RETURN(v1::LedgerHeader header, ReadHeader(ref));
  return header.version();
}

absl::StatusOr<std::vector<uint64_t>> LedgerStore::Versions(absl::Span<const LedgerRef> ledgers) {
  std::vector<std::string> keys;
  keys.reserve(ledgers.size());
  for (const LedgerRef& ref : ledgers) keys.push_back(LedgerPrefix(kHeader, ref));
  KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(keys));
  std::vector<uint64_t> out;
  out.reserve(values.size());
  for (const auto& v : values) {
    if (!v.has_value()) {
      out.push_back(0);
      continue;
    }
    KILN_ASSIGN_OR_RETURN(auto header, ParseRecord<v1::LedgerHeader>(*v, "ledger header"));
    out.push_back(header.version());
  }
  return out;
}

absl::StatusOr<std::vector<v1::MetaEntry>> LedgerStore::ReadEntries(
    const LedgerRef& ref, const std::vector<std::string>& cids, std::vector<uint64_t>* seqs) {
  std::string prefix = LedgerPrefix(kEntry, ref);
  std::vector<std::string> keys;
  keys.reserve(cids.size());
  for (const auto& cid : cids) keys.push_back(prefix + cid);
  KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(keys));
  std::vector<v1::MetaEntry> out;
  out.reserve(cids.size());
  for (size_t i = 0; i < cids.size(); ++i) {
    if (!values[i].has_value()) {
      return absl::DataLossError(
          absl::StrCat("entry ", cids[i], " is named by the ledger but missing from storage"));
    }
    KILN_ASSIGN_OR_RETURN(auto stored, ParseRecord<v1::StoredEntry>(*values[i], "entry"));
    if (seqs != nullptr) seqs->push_back(stored.seq());
    out.push_back(std::move(*stored.mutable_entry()));
  }
  return out;
}

absl::StatusOr<std::vector<v1::MetaEntry>> LedgerStore::GetEntries(
    const LedgerRef& ref, const std::vector<std::string>& cids) {
  std::string prefix = LedgerPrefix(kEntry, ref);
  std::vector<std::string> keys;
  keys.reserve(cids.size());
  for (const auto& cid : cids) keys.push_back(prefix + cid);
  KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(keys));
  for (size_t i = 0; i < cids.size(); ++i) {
    if (!values[i].has_value()) {
      return absl::NotFoundError(absl::StrCat("ledger ", ref.tenant(), "/", ref.ledger(),
                                              " has not accepted entry ", cids[i]));
    }
  }
  return ReadEntries(ref, cids);
}

absl::StatusOr<std::vector<std::string>> LedgerStore::ReadKeys(
    const LedgerRef& ref, const std::vector<std::string>* fingerprints) {
  std::string prefix = LedgerPrefix(kKey, ref);
  std::vector<std::string> sealed;
  if (fingerprints == nullptr) {
    KILN_ASSIGN_OR_RETURN(auto rows, kv_.Scan(prefix, PrefixUpperBound(prefix), 1 << 20));
    for (auto& [k, v] : rows) sealed.push_back(std::move(v));
  } else {
    std::vector<std::string> keys;
    for (const auto& fp : *fingerprints) keys.push_back(prefix + fp);
    KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(keys));
    for (auto& v : values) {
      if (!v.has_value()) return absl::DataLossError("a logged key is missing from storage");
      sealed.push_back(std::move(*v));
    }
  }
  std::string aad = KeyAad(ref);
  std::vector<std::string> out;
  out.reserve(sealed.size());
  for (const auto& bytes : sealed) {
    KILN_ASSIGN_OR_RETURN(auto stored, ParseRecord<v1::StoredKey>(bytes, "key"));
    KILN_ASSIGN_OR_RETURN(std::string key, sealer_.Open(stored.sealed(), aad));
    out.push_back(std::move(key));
  }
  return out;
}

absl::StatusOr<uint64_t> LedgerStore::ResealKeys() {
  if (!sealer_.has_previous()) return 0;
  constexpr size_t kPage = 1000;
  constexpr size_t kFingerprintBytes = kKeyFingerprintBytes;  // after the ledger's key prefix
  const std::string end = PrefixUpperBound(std::string(1, static_cast<char>(kKey)));
  std::string start(1, static_cast<char>(kKey));
  uint64_t resealed = 0;
  for (;;) {
    KILN_ASSIGN_OR_RETURN(auto page, kv_.Scan(start, end, kPage));
    std::vector<std::pair<std::string, std::string>> puts;
    for (const auto& [key, value] : page) {
      if (key.size() <= kFingerprintBytes) {
        return absl::DataLossError("a stored key record has a malformed storage key");
      }
      std::string aad = key.substr(0, key.size() - kFingerprintBytes);
      KILN_ASSIGN_OR_RETURN(auto stored, ParseRecord<v1::StoredKey>(value, "key"));
      bool under_previous = false;
      absl::StatusOr<std::string> plain = sealer_.Open(stored.sealed(), aad, &under_previous);
      if (!plain.ok()) {
        return absl::DataLossError(absl::StrCat("a stored key (record ", HexEncode(key),
                                                ") opens under no configured key-encryption "
                                                "key: ",
                                                plain.status().message()));
      }
      if (!under_previous) continue;
      KILN_ASSIGN_OR_RETURN(std::string sealed, sealer_.Seal(*plain, aad));
      stored.set_sealed(std::move(sealed));
      puts.emplace_back(key, stored.SerializeAsString());
    }
    if (!puts.empty()) {
      KILN_RETURN_IF_ERROR(kv_.Write(puts));
      resealed += puts.size();
    }
    if (page.size() < kPage) return resealed;
    start = page.back().first;
    start.push_back('\0');
  }
}

absl::StatusOr<v1::CommitResponse> LedgerStore::Commit(const v1::CommitRequest& request) {
  const LedgerRef ref(request.tenant(), request.ledger());
  // The in-process lock only spares doomed work; the conditional write below is the guarantee
  // (other processes may share the storage, e.g. metadata replicas on one PostgreSQL).
  absl::MutexLock lock(&LockFor(ref));
  // One read: the header, and which entries and keys are new.
  const std::string header_key = LedgerPrefix(kHeader, ref);
  std::string entry_prefix = LedgerPrefix(kEntry, ref);
  std::string key_prefix = LedgerPrefix(kKey, ref);
  std::vector<std::string> probe = {header_key};
  std::vector<std::string> key_fps;
  std::set<std::string> seen_cids, seen_fps;
  for (const auto& e : request.entries()) probe.push_back(entry_prefix + e.cid());
  for (const auto& k : request.keys()) {
    key_fps.push_back(DigestBytes(Sha256(k)));
    probe.push_back(key_prefix + key_fps.back());
  }
  KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(probe));
  std::optional<std::string> header_bytes = std::move(values[0]);
  v1::LedgerHeader header;
  if (header_bytes.has_value()) {
    KILN_ASSIGN_OR_RETURN(header, ParseRecord<v1::LedgerHeader>(*header_bytes, "ledger header"));
  }
  if (header.version() != request.expected_version()) {
    return StaleVersion(header.version(), request.expected_version());
  }
  std::vector<std::optional<std::string>> existing(std::make_move_iterator(values.begin() + 1),
                                                   std::make_move_iterator(values.end()));

  v1::LogRecord record;
  record.set_seq(header.version() + 1);
  *record.mutable_writers() = request.writers();
  record.set_unix_micros(absl::ToUnixMicros(clock_.Now()));
  record.set_prev_sha256(header.last_sha256());
  std::vector<std::string> heads(request.heads().begin(), request.heads().end());
  std::sort(heads.begin(), heads.end());
  heads.erase(std::unique(heads.begin(), heads.end()), heads.end());
  for (const auto& h : heads) record.add_heads(h);

  auto event = std::make_shared<v1::WatchEvent>();
  std::vector<std::pair<std::string, std::string>> puts;
  std::map<std::string, std::string> latest_by_writer;  // writer -> its newest entry here
  std::string referenced_prefix = LedgerPrefix(kReferenced, ref);
  for (int i = 0; i < request.entries_size(); ++i) {
    const v1::MetaEntry& e = request.entries(i);
    if (existing[i].has_value() || !seen_cids.insert(e.cid()).second) continue;
    v1::StoredEntry stored;
    *stored.mutable_entry() = e;
    stored.set_seq(record.seq());
    puts.emplace_back(entry_prefix + e.cid(), stored.SerializeAsString());
    for (const auto& parent : e.parents()) puts.emplace_back(referenced_prefix + parent, "");
    record.add_entry_cids(e.cid());
    *event->add_entries() = e;
    const std::string& writer = i < request.entry_writers_size() ? request.entry_writers(i)
                                : request.writers_size() > 0     ? request.writers(0)
                                                                 : std::string();
    if (!writer.empty()) latest_by_writer[writer] = e.cid();
  }
  std::string aad = KeyAad(ref);
  uint64_t new_keys = 0;
  for (int i = 0; i < request.keys_size(); ++i) {
    if (existing[request.entries_size() + i].has_value() || !seen_fps.insert(key_fps[i]).second) {
      continue;
    }
    v1::StoredKey stored;
    KILN_ASSIGN_OR_RETURN(std::string sealed, sealer_.Seal(request.keys(i), aad));
    stored.set_sealed(std::move(sealed));
    stored.set_seq(record.seq());
    puts.emplace_back(key_prefix + key_fps[i], stored.SerializeAsString());
    record.add_key_fingerprints(key_fps[i]);
    event->add_keys(request.keys(i));
    ++new_keys;
  }

  v1::CommitResponse response;
  if (record.entry_cids_size() == 0 && new_keys == 0) {
    response.set_version(header.version());  // nothing new: idempotent
    return response;
  }
  std::string record_bytes = record.SerializeAsString();
  puts.emplace_back(SeqKey(LedgerPrefix(kLog, ref), record.seq()), record_bytes);
  v1::LedgerHeader next;
  next.set_version(record.seq());
  for (const auto& h : heads) next.add_heads(h);
  next.set_last_sha256(DigestBytes(Sha256(record_bytes)));
  next.set_key_count(header.key_count() + new_keys);
  // Each writer's latest entry, most recently active last, bounded.
  std::map<std::string, uint64_t> first_seq;  // of the writers committing now
  for (const auto& wh : header.writer_heads()) {
    if (latest_by_writer.count(wh.writer()) == 0) {
      *next.add_writer_heads() = wh;
    } else {
      first_seq[wh.writer()] = wh.first_seq();
    }
  }
  for (const auto& [writer, cid] : latest_by_writer) {
    v1::WriterHead* wh = next.add_writer_heads();
    wh->set_writer(writer);
    wh->set_cid(cid);
    wh->set_seq(record.seq());
    auto first = first_seq.find(writer);
    wh->set_first_seq(first == first_seq.end() ? record.seq() : first->second);
  }
  if (next.writer_heads_size() > static_cast<int>(kMaxWriterHeads)) {
    next.mutable_writer_heads()->DeleteSubrange(
        0, next.writer_heads_size() - static_cast<int>(kMaxWriterHeads));
  }
  puts.emplace_back(header_key, next.SerializeAsString());
  absl::Status written = kv_.WriteIf({header_key, std::move(header_bytes)}, puts);
  if (written.code() == absl::StatusCode::kAborted) {
    // Another process committed to this ledger since we read its header.
    KILN_ASSIGN_OR_RETURN(uint64_t now, Version(ref));
    return StaleVersion(now, request.expected_version());
  }
  KILN_RETURN_IF_ERROR(written);

  event->set_version(record.seq());
  for (const auto& h : heads) event->add_heads(h);
  *event->mutable_writers() = record.writers();
  if (on_commit_) on_commit_(ref, std::move(event));
  response.set_version(record.seq());
  *response.mutable_record() = std::move(record);
  return response;
}

absl::StatusOr<v1::GetLedgerResponse> LedgerStore::GetLedger(const v1::GetLedgerRequest& request) {
  const LedgerRef ref(request.tenant(), request.ledger());
  v1::GetLedgerResponse response;
  // One read: the header and the probes (a consistent snapshot on PostgreSQL).
  std::vector<std::string> keys = {LedgerPrefix(kHeader, ref)};
  std::string entry_prefix = LedgerPrefix(kEntry, ref);
  std::string referenced_prefix = LedgerPrefix(kReferenced, ref);
  for (const auto& cid : request.probe_cids()) keys.push_back(entry_prefix + cid);
  for (const auto& cid : request.probe_cids()) keys.push_back(referenced_prefix + cid);
  KILN_ASSIGN_OR_RETURN(auto values, kv_.MultiGet(keys));
  v1::LedgerHeader header;
  if (values[0].has_value()) {
    KILN_ASSIGN_OR_RETURN(header, ParseRecord<v1::LedgerHeader>(*values[0], "ledger header"));
  }
  response.set_exists(values[0].has_value());
  v1::LedgerState* state = response.mutable_state();
  state->set_tenant(ref.tenant());
  state->set_ledger(ref.ledger());
  state->set_version(header.version());
  *state->mutable_heads() = header.heads();
  uint64_t after = request.entries_after_version();
  if (request.include_entries() && after > 0 && after <= header.version() &&
      header.version() - after <= kMaxCursorGap) {
    // What a polling reader at version `after` has not seen yet.
    response.set_incremental(true);
    KILN_ASSIGN_OR_RETURN(auto events, EventsAfter(ref, after, kMaxCursorGap));
    for (auto& event : events) {
      for (auto& e : *event.mutable_entries()) *state->add_head_entries() = std::move(e);
      for (auto& k : *event.mutable_keys()) state->add_keys(std::move(k));
    }
  } else if (request.include_entries()) {
    KILN_RETURN_IF_ERROR(AddReaderEntries(ref, header, state));
    KILN_ASSIGN_OR_RETURN(auto keys, ReadKeys(ref, nullptr));
    for (auto& k : keys) state->add_keys(std::move(k));
  }
  int n = request.probe_cids_size();
  for (int i = 0; i < n; ++i) {
    v1::EntryProbe* probe = response.add_probes();
    probe->set_cid(request.probe_cids(i));
    probe->set_accepted(values[1 + i].has_value());
    probe->set_referenced(values[1 + n + i].has_value());
  }
  return response;
}

absl::StatusOr<std::vector<std::string>> LedgerStore::RecentEntryCids(const LedgerRef& ref,
                                                                      uint64_t version) {
  std::vector<std::string> cids;
  if (recent_entries_ == 0 || version == 0) return cids;
  // Every commit accepts at least one entry or key, so the last recent_entries_ records hold at
  // least as many entries as are wanted, unless commits carried keys only.
  uint64_t from = version > recent_entries_ ? version - recent_entries_ + 1 : 1;
  std::string prefix = LedgerPrefix(kLog, ref);
  KILN_ASSIGN_OR_RETURN(auto rows,
                        kv_.Scan(SeqKey(prefix, from), PrefixUpperBound(prefix), recent_entries_));
  for (auto it = rows.rbegin(); it != rows.rend() && cids.size() < recent_entries_; ++it) {
    KILN_ASSIGN_OR_RETURN(auto record, ParseRecord<v1::LogRecord>(it->second, "log"));
    for (int i = record.entry_cids_size() - 1; i >= 0 && cids.size() < recent_entries_; --i) {
      cids.push_back(record.entry_cids(i));
    }
  }
  return cids;
}

absl::Status LedgerStore::AddReaderEntries(const LedgerRef& ref, const v1::LedgerHeader& header,
                                           v1::LedgerState* state) {
  // In this order (docs/protocol-rules.md, rule 2; the client merges one message's entries in turn,
  // skips an entry whose CARs its CAR log already names, and stops at the first that throws):
  //  1. the latest entries of writers that others committed around, in acceptance order: another
  //     writer may have put such an entry's CARs into its CAR log before merging it, and a reader
  //     that loaded that writer's entry first would skip it;
  //  2. the heads, in acceptance order;
  //  3. the other writers' latest entries that are not heads, in acceptance order;
  //  4. the rest of the newest accepted entries, newest first: a Fireproof client that commits
  //     while it compacts leaves those commits' CARs out of the CAR log its later commits name;
  //     newest first, the client skips those whose CARs it already has without fetching anything.
  std::set<std::string> head_set(header.heads().begin(), header.heads().end());
  WriterLatestGroups writers = SplitWriterLatest(header.writer_heads(), head_set);
  std::vector<std::string> heads(head_set.begin(), head_set.end());
  std::vector<uint64_t> seqs;
  KILN_ASSIGN_OR_RETURN(auto head_entries, ReadEntries(ref, heads, &seqs));
  std::vector<size_t> order(head_entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return seqs[a] < seqs[b]; });
  KILN_ASSIGN_OR_RETURN(auto before, ReadEntries(ref, writers.before_heads));
  KILN_ASSIGN_OR_RETURN(auto after, ReadEntries(ref, writers.after_heads));
  std::set<std::string> seen(head_set);
  seen.insert(writers.before_heads.begin(), writers.before_heads.end());
  seen.insert(writers.after_heads.begin(), writers.after_heads.end());
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> recent, RecentEntryCids(ref, header.version()));
  recent.erase(std::remove_if(recent.begin(), recent.end(),
                              [&](const std::string& c) { return !seen.insert(c).second; }),
               recent.end());
  KILN_ASSIGN_OR_RETURN(auto rest, ReadEntries(ref, recent));
  for (auto& e : before) *state->add_head_entries() = std::move(e);
  for (size_t i : order) *state->add_head_entries() = std::move(head_entries[i]);
  for (auto& e : after) *state->add_head_entries() = std::move(e);
  for (auto& e : rest) *state->add_head_entries() = std::move(e);
  return absl::OkStatus();
}

absl::StatusOr<v1::ListLedgersResponse> LedgerStore::ListLedgers(const std::string& tenant,
                                                                 const std::string& page_token,
                                                                 size_t limit) {
  std::string prefix = TenantHeaderPrefix(tenant);
  std::string start = prefix;
  if (!page_token.empty()) {
    start = LedgerPrefix(kHeader, LedgerRef(tenant, page_token));
    start.push_back('\0');  // strictly after the token's ledger
  }
  KILN_ASSIGN_OR_RETURN(auto rows, kv_.Scan(start, PrefixUpperBound(prefix), limit + 1));
  v1::ListLedgersResponse response;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    absl::string_view rest(rows[i].first);
    rest.remove_prefix(prefix.size());
    KILN_ASSIGN_OR_RETURN(uint64_t len, ReadUvarint(&rest));
    if (len != rest.size()) return absl::DataLossError("stored ledger key is damaged");
    KILN_ASSIGN_OR_RETURN(auto header, ParseRecord<v1::LedgerHeader>(rows[i].second, "header"));
    v1::LedgerState* state = response.add_ledgers();
    state->set_tenant(tenant);
    state->set_ledger(std::string(rest));
    state->set_version(header.version());
    *state->mutable_heads() = header.heads();
  }
  if (rows.size() > limit) response.set_next_page_token(response.ledgers().rbegin()->ledger());
  return response;
}

absl::StatusOr<bool> LedgerStore::CreateLedger(const LedgerRef& ref) {
  absl::MutexLock lock(&LockFor(ref));
  const std::string header_key = LedgerPrefix(kHeader, ref);
  v1::LedgerHeader empty;
  absl::Status written =
      kv_.WriteIf({header_key, std::nullopt}, {{header_key, empty.SerializeAsString()}});
  if (written.code() == absl::StatusCode::kAborted) return false;
  KILN_RETURN_IF_ERROR(written);
  return true;
}

absl::StatusOr<v1::DeleteLedgerResponse> LedgerStore::DeleteLedger(const LedgerRef& ref) {
  absl::MutexLock lock(&LockFor(ref));
  KILN_ASSIGN_OR_RETURN(std::optional<std::string> raw, kv_.Get(LedgerPrefix(kHeader, ref)));
  v1::LedgerHeader header;  // a damaged header is deleted like any other (version then 0)
  if (raw.has_value() && !header.ParseFromString(*raw)) header.Clear();
  std::vector<std::pair<std::string, std::string>> ranges;
  for (RecordType type : {kEntry, kLog, kHeader, kKey, kReferenced}) {
    std::string prefix = LedgerPrefix(type, ref);
    std::string end = PrefixUpperBound(prefix);
    ranges.emplace_back(std::move(prefix), std::move(end));
  }
  // Also when there is no header: a crash can never leave records without one (every write that
  // adds records writes the header in the same batch), but removing nothing costs little.
  KILN_RETURN_IF_ERROR(kv_.DeleteRanges(ranges));
  v1::DeleteLedgerResponse response;
  response.set_existed(raw.has_value());
  response.set_version(header.version());
  return response;
}

absl::StatusOr<v1::ListTenantsResponse> LedgerStore::ListTenants(const std::string& page_token,
                                                                 size_t limit) {
  const std::string all(1, static_cast<char>(kHeader));
  const std::string end = PrefixUpperBound(all);
  std::string start = page_token.empty() ? all : PrefixUpperBound(TenantHeaderPrefix(page_token));
  v1::ListTenantsResponse response;
  // One short scan per tenant: each jumps past every header of the tenant it found.
  while (static_cast<size_t>(response.tenants_size()) <= limit) {
    KILN_ASSIGN_OR_RETURN(auto rows, kv_.Scan(start, end, 1));
    if (rows.empty()) break;
    KILN_ASSIGN_OR_RETURN(DecodedKey key, DecodeRecordKey(rows[0].first));
    if (static_cast<size_t>(response.tenants_size()) == limit) {
      response.set_next_page_token(*response.tenants().rbegin());
      break;
    }
    start = PrefixUpperBound(TenantHeaderPrefix(key.tenant));
    response.add_tenants(std::move(key.tenant));
  }
  return response;
}

absl::StatusOr<v1::ReadLogResponse> LedgerStore::ReadLog(const LedgerRef& ref, uint64_t from_seq,
                                                         size_t limit) {
  std::string prefix = LedgerPrefix(kLog, ref);
  KILN_ASSIGN_OR_RETURN(v1::LedgerHeader header, ReadHeader(ref));
  KILN_ASSIGN_OR_RETURN(auto rows,
                        kv_.Scan(SeqKey(prefix, from_seq), PrefixUpperBound(prefix), limit));
  v1::ReadLogResponse response;
  for (auto& [key, bytes] : rows) {
    v1::LogRecord* record = response.add_records();
    if (!record->ParseFromString(bytes)) {
      // Keep going: the raw bytes let a verifier name this record.
      record->set_seq(0);
    }
    response.add_raw_records(std::move(bytes));
  }
  response.set_head_sha256(header.last_sha256());
  return response;
}

absl::StatusOr<v1::WatchEvent> LedgerStore::Snapshot(const LedgerRef& ref) {
  v1::GetLedgerRequest request;
  request.set_tenant(ref.tenant());
  request.set_ledger(ref.ledger());
  request.set_include_entries(true);
  KILN_ASSIGN_OR_RETURN(auto response, GetLedger(request));
  v1::WatchEvent event;
  event.set_snapshot(true);
  event.set_version(response.state().version());
  *event.mutable_heads() = response.state().heads();
  *event.mutable_entries() = response.state().head_entries();
  *event.mutable_keys() = response.state().keys();
  return event;
}

absl::StatusOr<std::vector<v1::WatchEvent>> LedgerStore::EventsAfter(const LedgerRef& ref,
                                                                     uint64_t after_version,
                                                                     size_t limit) {
  std::string prefix = LedgerPrefix(kLog, ref);
  KILN_ASSIGN_OR_RETURN(
      auto rows, kv_.Scan(SeqKey(prefix, after_version + 1), PrefixUpperBound(prefix), limit));
  std::vector<v1::WatchEvent> events;
  for (const auto& [key, bytes] : rows) {
    KILN_ASSIGN_OR_RETURN(auto record, ParseRecord<v1::LogRecord>(bytes, "log"));
    v1::WatchEvent event;
    event.set_version(record.seq());
    *event.mutable_heads() = record.heads();
    *event.mutable_writers() = record.writers();
    std::vector<std::string> cids(record.entry_cids().begin(), record.entry_cids().end());
    KILN_ASSIGN_OR_RETURN(auto entries, ReadEntries(ref, cids));
    for (auto& e : entries) *event.add_entries() = std::move(e);
    std::vector<std::string> fps(record.key_fingerprints().begin(),
                                 record.key_fingerprints().end());
    if (!fps.empty()) {
      KILN_ASSIGN_OR_RETURN(auto keys, ReadKeys(ref, &fps));
      for (auto& k : keys) event.add_keys(std::move(k));
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace kiln::metadata
