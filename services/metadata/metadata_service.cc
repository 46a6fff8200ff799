#include "services/metadata/metadata_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ids.h"  // ValidateId (ListLedgers names a tenant only)
#include "common/status_macros.h"
#include "common/unary_reactor.h"
#include "common/unlabelled_metrics.h"
#include "glog/logging.h"

namespace kiln::metadata {
namespace {

constexpr size_t kMaxCidBytes = 256;
constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kMaxEntryDataBytes = 1 << 20;

// The ledger a request names (ShardOwnership::ParseOwned): the one validation of a request's
// ledger; LedgerStore takes the LedgerRef as it is.
template <typename Request>
absl::StatusOr<LedgerRef> ParseLedger(const Request& request, const ShardOwnership& shard) {
  return shard.ParseOwned(request.tenant(), request.ledger());
}

// Moves a store result into the RPC's response, or returns its error.
template <typename Response>
absl::Status Respond(absl::StatusOr<Response> result, Response* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

// Rows in one page of a listing: `requested`, where 0 means 100, and at most 1000.
size_t PageLimit(uint32_t requested) { return requested == 0 ? 100 : std::min(requested, 1000u); }

absl::Status ValidateCid(const std::string& cid, absl::string_view field) {
  if (cid.empty() || cid.size() > kMaxCidBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be a CID string of 1 to ", kMaxCidBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommit(const v1::CommitRequest& r, int max_items,
                            const ShardOwnership& shard) {
  KILN_RETURN_IF_ERROR(ParseLedger(r, shard).status());
  if (r.entries_size() > max_items || r.heads_size() > max_items || r.keys_size() > max_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("a commit carries at most ", max_items, " entries, heads and keys each"));
  }
  for (int i = 0; i < r.entries_size(); ++i) {
    const auto& e = r.entries(i);
    KILN_RETURN_IF_ERROR(ValidateCid(e.cid(), absl::StrCat("entries[", i, "].cid")));
    if (e.data().empty() || e.data().size() > kMaxEntryDataBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries[", i, "].data must be 1 to ", kMaxEntryDataBytes, " bytes"));
    }
    for (int j = 0; j < e.parents_size(); ++j) {
      KILN_RETURN_IF_ERROR(
          ValidateCid(e.parents(j), absl::StrCat("entries[", i, "].parents[", j, "]")));
    }
  }
  for (int i = 0; i < r.heads_size(); ++i) {
    KILN_RETURN_IF_ERROR(ValidateCid(r.heads(i), absl::StrCat("heads[", i, "]")));
  }
  for (int i = 0; i < r.keys_size(); ++i) {
    if (r.keys(i).empty() || r.keys(i).size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("keys[", i, "] must be 1 to ", kMaxKeyBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// One Watch stream. Subscribes before reading the backlog (snapshot or log replay) so nothing
// committed in between is missed; live events at or below the last version sent are dropped, so
// nothing is sent twice. Writes one event at a time; a queue beyond max_watch_queue cuts the
// watcher off with RESOURCE_EXHAUSTED instead of growing.
class MetadataServiceImpl::WatchReactor : public grpc::ServerWriteReactor<v1::WatchEvent>,
                                          public WatchHub::Subscriber {
 public:
  WatchReactor(MetadataServiceImpl* service, const v1::WatchRequest* request)
      : service_(service), ref_(request->tenant(), request->ledger()) {
    absl::Status valid = ParseLedger(*request, service_->options_.shard).status();
    if (!valid.ok()) {
      NoLoad();
      FinishOnce(ToGrpcStatus(valid));
      return;
    }
    service_->hub_.Subscribe(ref_, this);
    subscribed_ = true;
    service_->watchers_->Increment();
    uint64_t after = request->after_version();
    absl::Status submitted = service_->executor_.TrySubmit([this, after] { LoadBacklog(after); });
    if (!submitted.ok()) {
      NoLoad();
      FinishOnce(ToGrpcStatus(submitted));
    }
  }

  void Deliver(const std::shared_ptr<const v1::WatchEvent>& event) override {
    if (event->deleted()) {
      FinishOnce(grpc::Status(grpc::StatusCode::NOT_FOUND,
                              "ledger " + ref_.tenant() + "/" + ref_.ledger() + " was deleted"));
      return;
    }
    bool overflow = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (loading_) {
        live_.push_back(event);
        overflow = live_.size() > service_->options_.max_watch_queue;
      } else if (event->version() > last_version_) {
        pending_.push_back(event);
        last_version_ = event->version();
        overflow = pending_.size() > service_->options_.max_watch_queue;
      }
    }
    if (overflow) {
      CutOff();
      return;
    }
    MaybeWrite();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away"));
      return;
    }
    service_->watch_events_sent_->Increment();
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      current_.reset();
    }
    MaybeWrite();
  }

  void OnCancel() override {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }

  void OnDone() override {
    if (subscribed_) {
      service_->hub_.Unsubscribe(ref_, this);
      service_->watchers_->Decrement();
    }
    // A backlog load may still be running on the executor; it owns a reference until it ends.
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = !load_running_;
    }
    if (last) Release();
  }

 private:
  void LoadBacklog(uint64_t after) {
    std::vector<std::shared_ptr<const v1::WatchEvent>> backlog;
    uint64_t observed = 0;  // a version this watcher holds everything up to, read from storage
    absl::Status status = ReadBacklog(after, &backlog, &observed);
    LogFollower* follower = service_->follower_;
    if (status.ok() && follower != nullptr) {
      // Outside mu_: the follower publishes (into Deliver) under its own lock.
      follower->Follow(ref_, observed);
      followed_ = true;
    }
    bool delete_now = false;
    {
      absl::MutexLock lock(&mu_);
      load_running_ = false;
      delete_now = done_;
      if (!delete_now && status.ok()) {
        for (auto& e : backlog) {
          pending_.push_back(e);
          last_version_ = std::max(last_version_, e->version());
        }
        for (auto& e : live_) {
          if (e->version() > last_version_) {
            pending_.push_back(e);
            last_version_ = e->version();
          }
        }
        live_.clear();
        loading_ = false;
      }
    }
    if (delete_now) {
      Release();
      return;
    }
    if (!status.ok()) {
      FinishOnce(ToGrpcStatus(status));
      return;
    }
    MaybeWrite();
  }

  absl::Status ReadBacklog(uint64_t after,
                           std::vector<std::shared_ptr<const v1::WatchEvent>>* backlog,
                           uint64_t* observed) {
    if (after == 0) {
      absl::StatusOr<v1::WatchEvent> snapshot = service_->store_.Snapshot(ref_);
      if (!snapshot.ok()) return snapshot.status();
      *observed = snapshot->version();
      backlog->push_back(std::make_shared<v1::WatchEvent>(*std::move(snapshot)));
      return absl::OkStatus();
    }
    uint64_t from = after;
    for (;;) {
      auto events = service_->store_.EventsAfter(ref_, from, 1000);
      if (!events.ok()) return events.status();
      if (events->empty()) break;
      for (auto& e : *events) backlog->push_back(std::make_shared<v1::WatchEvent>(std::move(e)));
      from = backlog->back()->version();
      if (backlog->size() > service_->options_.max_watch_replay) {
        return absl::ResourceExhaustedError(
            "too far behind to replay; watch again with after_version=0 for a snapshot");
      }
    }
    if (!backlog->empty()) {
      *observed = backlog->back()->version();
    } else if (service_->follower_ != nullptr) {
      absl::StatusOr<uint64_t> version = service_->store_.Version(ref_);
      if (!version.ok()) return version.status();
      *observed = *version;
    }
    return absl::OkStatus();
  }

  // Stops following and deletes the reactor (the last of OnDone and a backlog load to end).
  void Release() {
    if (followed_) service_->follower_->Unfollow(ref_);
    delete this;
  }

  // Marks that no backlog load will run (so OnDone may delete the reactor).
  void NoLoad() {
    absl::MutexLock lock(&mu_);
    load_running_ = false;
  }

  void MaybeWrite() {
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || loading_ || pending_.empty()) return;
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
    }
    StartWrite(current_.get());
  }

  void CutOff() {
    service_->watchers_cut_off_->Increment();
    FinishOnce(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "watcher fell too far behind and was cut off; resume with "
                            "after_version set to the last version received"));
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  MetadataServiceImpl* service_;
  const LedgerRef ref_;
  bool subscribed_ = false;
  bool followed_ = false;  // set by the backlog load before load_running_ clears
  absl::Mutex mu_;
  bool loading_ ABSL_GUARDED_BY(mu_) = true;
  bool load_running_ ABSL_GUARDED_BY(mu_) = true;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<const v1::WatchEvent>> live_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const v1::WatchEvent>> pending_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const v1::WatchEvent> current_;
};

MetadataServiceImpl::MetadataServiceImpl(const MetadataServiceOptions& options, LedgerStore& store,
                                         WatchHub& hub, BoundedExecutor& executor,
                                         prometheus::Registry& registry, LogFollower* follower)
    : options_(options), store_(store), hub_(hub), executor_(executor), follower_(follower) {
  auto& commits = prometheus::BuildCounter()
                      .Name("kiln_metadata_commits_total")
                      .Help("Commits by result: ok, aborted (stale version), noop (nothing new).")
                      .Register(registry);
  commits_ok_ = &commits.Add({{"result", "ok"}});
  commits_aborted_ = &commits.Add({{"result", "aborted"}});
  commits_noop_ = &commits.Add({{"result", "noop"}});
  commit_seconds_ = &prometheus::BuildHistogram()
                         .Name("kiln_metadata_commit_duration_seconds")
                         .Help("Time to apply a commit, including the synced write.")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05, 0.1, 0.25, 0.5, 1});
  watchers_ = &UnlabelledGauge(registry, "kiln_metadata_watchers", "Open Watch streams.");
  watch_events_sent_ = &UnlabelledCounter(registry, "kiln_metadata_watch_events_sent_total",
                                          "Events written to Watch streams.");
  watchers_cut_off_ =
      &UnlabelledCounter(registry, "kiln_metadata_watchers_cut_off_total",
                         "Watch streams ended because the watcher fell too far behind.");
}

grpc::ServerUnaryReactor* MetadataServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                        absl::Status valid,
                                                        absl::AnyInvocable<absl::Status()> fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  kiln::RunUnary(executor_, reactor, std::move(valid), std::move(fn), [](const absl::Status& s) {
    if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kDataLoss ||
        s.code() == absl::StatusCode::kUnavailable) {
      LOG(ERROR) << "metadata storage failure: " << s.message();
    }
  });
  return reactor;
}

grpc::ServerUnaryReactor* MetadataServiceImpl::RunForLedger(
    grpc::CallbackServerContext* context, absl::StatusOr<LedgerRef> ledger, absl::Status check,
    absl::AnyInvocable<absl::Status(const LedgerRef&)> fn) {
  // Read before `ledger` moves into the work, which runs only when this is OK.
  absl::Status valid = ledger.ok() ? std::move(check) : ledger.status();
  return RunUnary(
      context, std::move(valid),
      [ledger = std::move(ledger), fn = std::move(fn)]() mutable { return fn(*ledger); });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::Commit(grpc::CallbackServerContext* context,
                                                      const v1::CommitRequest* request,
                                                      v1::CommitResponse* response) {
  return RunUnary(
      context, ValidateCommit(*request, options_.max_commit_items, options_.shard),
      [this, request, response]() -> absl::Status {
        auto start = std::chrono::steady_clock::now();
        absl::StatusOr<v1::CommitResponse> result = store_.Commit(*request);
        commit_seconds_->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (result.status().code() == absl::StatusCode::kAborted) commits_aborted_->Increment();
        if (!result.ok()) return result.status();
        (result->has_record() ? commits_ok_ : commits_noop_)->Increment();
        *response = *std::move(result);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::GetLedger(grpc::CallbackServerContext* context,
                                                         const v1::GetLedgerRequest* request,
                                                         v1::GetLedgerResponse* response) {
  absl::Status valid = ParseLedger(*request, options_.shard).status();
  if (valid.ok() && request->probe_cids_size() > 1024) {
    valid = absl::InvalidArgumentError("probe_cids has more than 1024 entries");
  }
  return RunUnary(context, valid, [this, request, response] {
    return Respond(store_.GetLedger(*request), response);
  });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::ListLedgers(grpc::CallbackServerContext* context,
                                                           const v1::ListLedgersRequest* request,
                                                           v1::ListLedgersResponse* response) {
  return RunUnary(context, ValidateId(request->tenant(), "tenant"), [this, request, response] {
    return Respond(store_.ListLedgers(request->tenant(), request->page_token(),
                                      PageLimit(request->page_size())),
                   response);
  });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::ReadLog(grpc::CallbackServerContext* context,
                                                       const v1::ReadLogRequest* request,
                                                       v1::ReadLogResponse* response) {
  absl::Status check =
      request->from_seq() == 0 ? absl::OutOfRangeError("from_seq starts at 1") : absl::OkStatus();
  return RunForLedger(
      context, ParseLedger(*request, options_.shard), std::move(check),
      [this, request, response](const LedgerRef& ledger) {
        return Respond(store_.ReadLog(ledger, request->from_seq(), PageLimit(request->limit())),
                       response);
      });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::GetEntries(grpc::CallbackServerContext* context,
                                                          const v1::GetEntriesRequest* request,
                                                          v1::GetEntriesResponse* response) {
  absl::Status check = request->cids_size() > 1000
                           ? absl::InvalidArgumentError("at most 1000 cids per GetEntries")
                           : absl::OkStatus();
  return RunForLedger(context, ParseLedger(*request, options_.shard), std::move(check),
                      [this, request, response](const LedgerRef& ledger) -> absl::Status {
                        std::vector<std::string> cids(request->cids().begin(),
                                                      request->cids().end());
                        KILN_ASSIGN_OR_RETURN(auto entries, store_.GetEntries(ledger, cids));
                        for (auto& e : entries) *response->add_entries() = std::move(e);
                        return absl::OkStatus();
                      });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::ImportLedger(grpc::CallbackServerContext* context,
                                                            const v1::ImportLedgerRequest* request,
                                                            v1::ImportLedgerResponse* response) {
  return RunUnary(
      context, ParseLedger(*request, options_.shard).status(),
      [this, request, response] { return Respond(store_.ImportLedger(*request), response); });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::CreateLedger(grpc::CallbackServerContext* context,
                                                            const v1::CreateLedgerRequest* request,
                                                            v1::CreateLedgerResponse* response) {
  return RunForLedger(context, ParseLedger(*request, options_.shard), absl::OkStatus(),
                      [this, response](const LedgerRef& ledger) -> absl::Status {
                        KILN_ASSIGN_OR_RETURN(bool created, store_.CreateLedger(ledger));
                        response->set_created(created);
                        return absl::OkStatus();
                      });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::DeleteLedger(grpc::CallbackServerContext* context,
                                                            const v1::DeleteLedgerRequest* request,
                                                            v1::DeleteLedgerResponse* response) {
  return RunForLedger(context, ParseLedger(*request, options_.shard), absl::OkStatus(),
                      [this, response](const LedgerRef& ledger) -> absl::Status {
                        KILN_ASSIGN_OR_RETURN(*response, store_.DeleteLedger(ledger));
                        // Ends this process's Watch streams of the ledger (edges tell their
                        // clients). Replicas sharing a database learn it from their LogFollower's
                        // poll.
                        auto event = std::make_shared<v1::WatchEvent>();
                        event->set_deleted(true);
                        hub_.Publish(ledger, event);
                        LOG(INFO) << "deleted a ledger at version " << response->version();
                        return absl::OkStatus();
                      });
}

grpc::ServerUnaryReactor* MetadataServiceImpl::ListTenants(grpc::CallbackServerContext* context,
                                                           const v1::ListTenantsRequest* request,
                                                           v1::ListTenantsResponse* response) {
  return RunUnary(context, absl::OkStatus(), [this, request, response] {
    return Respond(store_.ListTenants(request->page_token(), PageLimit(request->page_size())),
                   response);
  });
}

grpc::ServerWriteReactor<v1::WatchEvent>* MetadataServiceImpl::Watch(
    grpc::CallbackServerContext* /*context*/, const v1::WatchRequest* request) {
  return new WatchReactor(this, request);
}

}  // namespace kiln::metadata
