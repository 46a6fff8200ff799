#include "services/blockstore/mirror_backend.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "services/blockstore/key_codec.h"
#include "services/blockstore/stats_collectors.h"

namespace kiln::blockstore {
namespace {

// Every key of one store, in order.
absl::StatusOr<std::vector<std::string>> AllKeys(BlockBackend& backend, const LedgerRef& ledger,
                                                 Store store) {
  std::vector<std::string> keys;
  std::string after;
  while (true) {
    KILN_ASSIGN_OR_RETURN(ListPage page, backend.List(ledger, store, after, 1000));
    for (auto& e : page.entries) keys.push_back(std::move(e.key));
    if (!page.more || page.entries.empty()) return keys;
    after = keys.back();
  }
}

// Copies `key` from `from` to `to`; false when it could not be.
// Streams one blob from `from` into `to` (a window and a part at a time where the stores stream,
// e.g. s3://); `to` checks nothing new, the digest travels with the bytes and `from` verified them.
absl::Status CopyBlob(BlockBackend& from, BlockBackend& to, const BlobKey& key) {
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, from.NewReader(key));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, to.NewWriter(key, reader->info().size));
  for (;;) {
    KILN_ASSIGN_OR_RETURN(absl::string_view window, reader->Read());
    if (window.empty()) break;
    KILN_RETURN_IF_ERROR(writer->Write(std::string(window)));
  }
  return writer->Commit(reader->info().sha256).status();
}

bool Copy(BlockBackend& from, BlockBackend& to, const BlobKey& key) {
  absl::Status copied = CopyBlob(from, to, key);
  if (!copied.ok()) {
    LOG(WARNING) << "mirror repair: copying a blob failed: " << copied.message();
    return false;
  }
  return true;
}

}  // namespace

MirrorBlockBackend::MirrorBlockBackend(std::unique_ptr<BlockBackend> first,
                                       std::unique_ptr<BlockBackend> second)
    : first_(std::move(first)), second_(std::move(second)) {}

// Feeds one blob to a writer of each store; commits FIRST, then SECOND (as Put writes them).
class MirrorBlockBackend::TeeWriter : public BlobWriter {
 public:
  TeeWriter(MirrorBlockBackend& mirror, BlobKey key, std::unique_ptr<BlobWriter> first,
            std::unique_ptr<BlobWriter> second)
      : mirror_(mirror),
        key_(std::move(key)),
        first_(std::move(first)),
        second_(std::move(second)) {}

  // The smaller of the two, so that a store that streams is fed in its own steps.
  size_t preferred_write_bytes() const override {
    return std::min(first_->preferred_write_bytes(), second_->preferred_write_bytes());
  }
  uint64_t held_bytes() const override { return first_->held_bytes() + second_->held_bytes(); }

  absl::Status Write(std::string data) override {
    KILN_RETURN_IF_ERROR(first_->Write(std::string(data)));
    return second_->Write(std::move(data));
  }

  absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override {
    KILN_ASSIGN_OR_RETURN(PutOutcome first, first_->Commit(digest));
    first_.reset();
    absl::StatusOr<PutOutcome> second = second_->Commit(digest);
    second_.reset();
    return mirror_.Settle(key_, first, second);
  }

 private:
  MirrorBlockBackend& mirror_;
  const BlobKey key_;
  std::unique_ptr<BlobWriter> first_;
  std::unique_ptr<BlobWriter> second_;
};

absl::StatusOr<PutOutcome> MirrorBlockBackend::Put(const BlobKey& key, absl::string_view data,
                                                   const Sha256Digest& digest) {
  KILN_ASSIGN_OR_RETURN(PutOutcome first, first_->Put(key, data, digest));
  return Settle(key, first, second_->Put(key, data, digest));
}

absl::StatusOr<PutOutcome> MirrorBlockBackend::Settle(const BlobKey& key, PutOutcome first,
                                                      const absl::StatusOr<PutOutcome>& second) {
  if (second.status().code() == absl::StatusCode::kAlreadyExists && first == PutOutcome::kCreated) {
    // SECOND holds other bytes under this key: do not let the two stores disagree.
    absl::Status undo = first_->Delete(key);
    if (!undo.ok()) LOG(ERROR) << "mirror: undoing a put failed: " << undo.message();
  }
  if (!second.ok()) return second.status();
  return first == PutOutcome::kCreated || *second == PutOutcome::kCreated
             ? PutOutcome::kCreated
             : PutOutcome::kAlreadyPresent;
}

absl::StatusOr<std::unique_ptr<BlobWriter>> MirrorBlockBackend::NewWriter(const BlobKey& key,
                                                                          uint64_t size) {
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> first, first_->NewWriter(key, size));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> second, second_->NewWriter(key, size));
  return std::unique_ptr<BlobWriter>(
      new TeeWriter(*this, key, std::move(first), std::move(second)));
}

template <typename T>
absl::StatusOr<T> MirrorBlockBackend::FromFirstThatHas(
    absl::FunctionRef<absl::StatusOr<T>(BlockBackend&)> open) {
  absl::StatusOr<T> first = open(*first_);
  if (first.ok()) return first;
  absl::StatusOr<T> second = open(*second_);
  if (second.ok()) {
    stats_->fallback_reads.fetch_add(1);
    return second;
  }
  if (first.status().code() == absl::StatusCode::kNotFound) return second.status();
  return first.status();
}

absl::StatusOr<std::unique_ptr<Blob>> MirrorBlockBackend::Get(const BlobKey& key) {
  return FromFirstThatHas<std::unique_ptr<Blob>>(
      [&key](BlockBackend& store) { return store.Get(key); });
}

// FIRST's reader, passed through; a DATA_LOSS marks the key suspect, a read to the end clears it.
class MirrorBlockBackend::SuspectingReader : public BlobReader {
 public:
  SuspectingReader(MirrorBlockBackend& mirror, std::string key, std::unique_ptr<BlobReader> first)
      : mirror_(mirror), key_(std::move(key)), first_(std::move(first)) {
    info_ = first_->info();
  }

  absl::StatusOr<absl::string_view> Read() override {
    absl::StatusOr<absl::string_view> window = first_->Read();
    if (window.status().code() == absl::StatusCode::kDataLoss) {
      LOG(ERROR) << "mirror: the first store's copy of a blob is corrupt; reads of it now try the "
                    "second store first (repair or delete the first copy)";
      mirror_.SetSuspect(key_, true);
    } else if (window.ok() && !finished_) {
      read_ += window->size();
      if (read_ >= info_.size) {
        finished_ = true;
        mirror_.SetSuspect(key_, false);
      }
    }
    return window;
  }

 private:
  MirrorBlockBackend& mirror_;
  const std::string key_;
  std::unique_ptr<BlobReader> first_;
  uint64_t read_ = 0;
  bool finished_ = false;
};

absl::StatusOr<std::unique_ptr<BlobReader>> MirrorBlockBackend::NewReader(const BlobKey& key) {
  const std::string encoded = EncodeBlobKey(key);
  if (IsSuspect(encoded)) {
    absl::StatusOr<std::unique_ptr<BlobReader>> second = second_->NewReader(key);
    if (second.ok()) {
      stats_->fallback_reads.fetch_add(1);
      return second;
    }
  }
  return FromFirstThatHas<std::unique_ptr<BlobReader>>(
      [&](BlockBackend& store) -> absl::StatusOr<std::unique_ptr<BlobReader>> {
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, store.NewReader(key));
        if (&store != first_.get()) return reader;
        return std::unique_ptr<BlobReader>(new SuspectingReader(*this, encoded, std::move(reader)));
      });
}

bool MirrorBlockBackend::IsSuspect(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return suspects_.contains(key);
}

void MirrorBlockBackend::SetSuspect(const std::string& key, bool suspect) {
  absl::MutexLock lock(&mu_);
  if (!suspect) {
    // Rare (the key was suspect and FIRST served it whole since): drop its place in the order too,
    // so that a later suspicion of the same key is not aged out by this one.
    if (suspects_.erase(key) > 0) {
      auto it = std::find(suspect_order_.begin(), suspect_order_.end(), key);
      if (it != suspect_order_.end()) suspect_order_.erase(it);
    }
    return;
  }
  if (!suspects_.insert(key).second) return;
  suspect_order_.push_back(key);
  while (suspect_order_.size() > kMaxSuspects) {
    suspects_.erase(suspect_order_.front());
    suspect_order_.pop_front();
  }
}

absl::StatusOr<std::vector<std::optional<BlobInfo>>> MirrorBlockBackend::BatchStat(
    const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) {
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> first =
      first_->BatchStat(ledger, store, keys);
  if (!first.ok()) return second_->BatchStat(ledger, store, keys);
  std::vector<std::string> missing;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!(*first)[i].has_value()) missing.push_back(keys[i]);
  }
  if (missing.empty()) return first;
  KILN_ASSIGN_OR_RETURN(auto second, second_->BatchStat(ledger, store, missing));
  for (size_t i = 0, j = 0; i < keys.size(); ++i) {
    if (!(*first)[i].has_value()) (*first)[i] = second[j++];
  }
  return first;
}

absl::Status MirrorBlockBackend::Delete(const BlobKey& key) {
  absl::Status first = first_->Delete(key);
  absl::Status second = second_->Delete(key);
  if (first.ok() || second.ok()) {
    if (!first.ok() && first.code() != absl::StatusCode::kNotFound) return first;
    if (!second.ok() && second.code() != absl::StatusCode::kNotFound) return second;
    return absl::OkStatus();
  }
  if (first.code() != absl::StatusCode::kNotFound) return first;
  return second;
}

absl::StatusOr<ListPage> MirrorBlockBackend::List(const LedgerRef& ledger, Store store,
                                                  absl::string_view start_after, size_t limit) {
  KILN_ASSIGN_OR_RETURN(ListPage a, first_->List(ledger, store, start_after, limit));
  KILN_ASSIGN_OR_RETURN(ListPage b, second_->List(ledger, store, start_after, limit));
  ListPage out;
  std::merge(a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end(),
             std::back_inserter(out.entries),
             [](const ListPage::Entry& x, const ListPage::Entry& y) { return x.key < y.key; });
  out.entries.erase(std::unique(out.entries.begin(), out.entries.end(),
                                [](const ListPage::Entry& x, const ListPage::Entry& y) {
                                  return x.key == y.key;
                                }),
                    out.entries.end());
  // A store with more entries has none below its last listed key that are missing here; keys
  // past that point may be missing from this page, so cut there.
  auto cut = [&out](const ListPage& page) {
    if (!page.more || page.entries.empty()) return;
    const std::string& last = page.entries.back().key;
    auto end =
        std::upper_bound(out.entries.begin(), out.entries.end(), last,
                         [](const std::string& k, const ListPage::Entry& e) { return k < e.key; });
    if (end != out.entries.end()) {
      out.entries.erase(end, out.entries.end());
      out.more = true;
    }
  };
  cut(a);
  cut(b);
  if (a.more || b.more) out.more = true;
  if (out.entries.size() > limit) {
    out.entries.resize(limit);
    out.more = true;
  }
  return out;
}

absl::StatusOr<RepairReport> MirrorBlockBackend::Repair(const LedgerRef& ledger, Store store) {
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> a, AllKeys(*first_, ledger, store));
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> b, AllKeys(*second_, ledger, store));
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  RepairReport report;
  auto key = [&](const std::string& k) { return BlobKey{ledger, store, k}; };
  for (const std::string& k : only_a) {
    Copy(*first_, *second_, key(k)) ? ++report.copied_to_second : ++report.failed;
  }
  for (const std::string& k : only_b) {
    Copy(*second_, *first_, key(k)) ? ++report.copied_to_first : ++report.failed;
  }
  stats_->repaired.fetch_add(report.copied_to_first + report.copied_to_second);
  return report;
}

std::shared_ptr<prometheus::Collectable> MirrorBlockBackend::StatsCollector() {
  auto own = [stats = stats_] {
    return std::vector<prometheus::MetricFamily>{
        CounterFamily("kiln_blockstore_mirror_fallback_reads_total",
                      "Gets the first store could not answer, served by the second.",
                      static_cast<double>(stats->fallback_reads.load())),
        CounterFamily("kiln_blockstore_mirror_repaired_blobs_total",
                      "Blobs copied from one store to the other by repair passes.",
                      static_cast<double>(stats->repaired.load()))};
  };
  return std::make_shared<CombinedCollector>(
      own, std::vector<std::shared_ptr<prometheus::Collectable>>{first_->StatsCollector(),
                                                                 second_->StatsCollector()});
}

}  // namespace kiln::blockstore
