// The ledger state machine of the metadata service, on top of any KvBackend: compare-and-set
// commits, head sets, sealed keys, the hash-chained log, and the events watchers receive.
//
// Threading: all methods are thread-safe and may block on storage; call them from the I/O
// executor. A commit is a conditional write on the ledger's header (KvBackend::WriteIf), so it
// succeeds only at the expected version even when other processes share the storage; within one
// process, commits of a ledger are also serialized by a striped lock (an optimisation: it spares
// work that would lose). `on_commit` runs inside that lock, so events of one ledger committed here
// are published in version order (it must not block).
//
// Layout: every key starts with a one-byte record type followed by the length-prefixed tenant and
// ledger, so all of a ledger's records hash to the same shard under (tenant, ledger) sharding.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/aead.h"
#include "common/clock.h"
#include "common/ledger_ref.h"
#include "kiln/metadata/v1/metadata.pb.h"
#include "kiln/metadata/v1/storage.pb.h"
#include "services/metadata/kv_backend.h"

namespace kiln::metadata {

// Called with each committed change while the ledger's lock is held.
using CommitListener =
    std::function<void(const LedgerRef& ledger, std::shared_ptr<const v1::WatchEvent> event)>;

class LedgerStore {
 public:
  // `kv`, `sealer` and `clock` are not owned and must outlive the store. `recent_entries`: how
  // many of the newest accepted entries a new reader is served beside the heads (see
  // LedgerState.head_entries and docs/protocol-rules.md).
  LedgerStore(KvBackend& kv, const KeySealer& sealer, const Clock& clock, CommitListener on_commit,
              size_t recent_entries = kDefaultRecentEntries);

  // Two of the Fireproof client's compaction windows (it compacts at 100 CARs by default).
  static constexpr size_t kDefaultRecentEntries = 200;

  // Re-seals under the current key-encryption key every stored key that only a previous KEK
  // opens (KEK rotation), in batches; returns how many were re-sealed. Safe while serving: commits
  // only add key records, never change them. DATA_LOSS names a record no KEK opens.
  absl::StatusOr<uint64_t> ResealKeys();

  // Applies `request` if its expected_version is current. Returns ABORTED ("ledger t/l is at
  // version N, not M") when stale; a commit that adds no entry and no key changes nothing and
  // returns the current version with an empty record. Storage errors pass through.
  absl::StatusOr<v1::CommitResponse> Commit(const v1::CommitRequest& request);

  // State (version 0 for a ledger never written) and probe results.
  absl::StatusOr<v1::GetLedgerResponse> GetLedger(const v1::GetLedgerRequest& request);

  // Ledgers of a tenant in id order, starting after `page_token`.
  absl::StatusOr<v1::ListLedgersResponse> ListLedgers(const std::string& tenant,
                                                      const std::string& page_token, size_t limit);

  // Log records from `from_seq` (>= 1).
  absl::StatusOr<v1::ReadLogResponse> ReadLog(const LedgerRef& ledger, uint64_t from_seq,
                                              size_t limit);

  // Accepted entries by CID, in order. NOT_FOUND naming the first CID not accepted.
  absl::StatusOr<std::vector<v1::MetaEntry>> GetEntries(const LedgerRef& ledger,
                                                        const std::vector<std::string>& cids);

  // Writes a whole ledger from another deployment, log records unchanged (ledger_import.cc),
  // then tells `on_commit` (so watchers bound to the ledger see the imported heads, entries and
  // keys as one change). FAILED_PRECONDITION when the ledger has a header here; DATA_LOSS naming
  // what does not fit (broken chain, an entry or key the log names but the request lacks).
  // Storage errors pass through.
  absl::StatusOr<v1::ImportLedgerResponse> ImportLedger(const v1::ImportLedgerRequest& request);

  // The first event of a fresh watch: current heads, head entries and every key.
  absl::StatusOr<v1::WatchEvent> Snapshot(const LedgerRef& ledger);

  // Events for versions after `after_version`, rebuilt from the log, at most `limit`.
  absl::StatusOr<std::vector<v1::WatchEvent>> EventsAfter(const LedgerRef& ledger,
                                                          uint64_t after_version, size_t limit);

  // Registers an empty ledger (a header at version 0) so that ListLedgers shows it before its
  // first commit. Returns false, changing nothing, when the ledger already has a header.
  absl::StatusOr<bool> CreateLedger(const LedgerRef& ledger);

  // Removes every record of the ledger (header, entries, references, keys, log) in one atomic
  // write, under the ledger's lock. Idempotent. Storage errors pass through.
  absl::StatusOr<v1::DeleteLedgerResponse> DeleteLedger(const LedgerRef& ledger);

  // Tenants with at least one ledger header, in id order, starting after `page_token`.
  absl::StatusOr<v1::ListTenantsResponse> ListTenants(const std::string& page_token, size_t limit);

  // The current version (0 when never written).
  absl::StatusOr<uint64_t> Version(const LedgerRef& ledger);

  // The current versions of several ledgers, in order, in one storage read.
  absl::StatusOr<std::vector<uint64_t>> Versions(absl::Span<const LedgerRef> ledgers);

 private:
  // The header (empty for a ledger never written); `raw`, when set, receives its stored bytes.
  absl::StatusOr<v1::LedgerHeader> ReadHeader(const LedgerRef& ledger,
                                              std::optional<std::string>* raw = nullptr);
  absl::StatusOr<std::vector<v1::MetaEntry>> ReadEntries(const LedgerRef& ledger,
                                                         const std::vector<std::string>& cids,
                                                         std::vector<uint64_t>* seqs = nullptr);
  absl::StatusOr<std::vector<std::string>> ReadKeys(const LedgerRef& ledger,
                                                    const std::vector<std::string>* fingerprints);
  absl::Mutex& LockFor(const LedgerRef& ledger);
  // The change watchers are told of after ImportLedger wrote `header` (ledger_import.cc).
  std::shared_ptr<const v1::WatchEvent> ImportedEvent(
      const v1::LedgerHeader& header, const std::map<std::string, const v1::MetaEntry*>& entries,
      const v1::ImportLedgerRequest& request);
  // CIDs of up to recent_entries_ newest accepted entries, newest first.
  absl::StatusOr<std::vector<std::string>> RecentEntryCids(const LedgerRef& ledger,
                                                           uint64_t version);
  // What a new reader starts from, in rule 2 order (LedgerState.head_entries).
  absl::Status AddReaderEntries(const LedgerRef& ledger, const v1::LedgerHeader& header,
                                v1::LedgerState* state);

  KvBackend& kv_;
  const KeySealer& sealer_;
  const Clock& clock_;
  CommitListener on_commit_;
  const size_t recent_entries_;
  std::array<absl::Mutex, 512> locks_;
};

}  // namespace kiln::metadata
