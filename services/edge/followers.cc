#include "services/edge/followers.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "boost/json/serialize.hpp"
#include "glog/logging.h"
#include "grpcpp/alarm.h"
#include "grpcpp/client_context.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

namespace kiln::edge {
namespace {

// The serialized eventGetMeta push for a connection bound with `bind`, up to and including
// `"meta":`; appending a serialized meta object and `}` completes it. Built from the bind's
// decoded protocol fields only (messages.h), never from what else the client put in it.
std::shared_ptr<const std::string> PushHead(const Message& bind, const std::string& req_id,
                                            const std::string& res_id) {
  boost::json::object push = EncodeEnvelope(bind, ReplyTypeName(MsgType::kBindGetMeta));
  push["conn"] = EncodeConn(Conn{req_id, res_id});
  push["signedUrl"] = "";
  std::string head = boost::json::serialize(push);
  head.pop_back();  // the closing brace; the object is never empty (it has "type")
  head += ",\"meta\":";
  return std::make_shared<const std::string>(std::move(head));
}

namespace mv1 = ::kiln::metadata::v1;

// The error a bound connection receives when its ledger is deleted: the bind's envelope with the
// connection's own `conn` (so the client routes it into that bind stream and ends it).
std::string DeletedLedgerError(const Message& bind, const std::string& req_id,
                               const std::string& res_id) {
  boost::json::object error = EncodeEnvelope(bind, "error");
  error["conn"] = EncodeConn(Conn{req_id, res_id});
  error["src"] = boost::json::object{{"tid", bind.tid}, {"type", "bindGetMeta"}};
  error["message"] = "ledger " + bind.Tenant() + "/" + bind.Ledger() +
                     " was deleted by an operator; bind again to start a new, empty ledger";
  return boost::json::serialize(error);
}

// Watch restarts wait this long at first, doubling up to the maximum while streams keep ending
// without delivering anything.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(10);

std::string LedgerKey(const std::string& tenant, const std::string& ledger) {
  return absl::StrCat(tenant.size(), ":", tenant, ledger);
}

}  // namespace

// The followers of one ledger and the state of its Watch stream.
class LedgerFollowers::Ledger {
 public:
  Ledger(std::string tenant, std::string ledger)
      : tenant(std::move(tenant)), ledger(std::move(ledger)) {}

  const std::string tenant;
  const std::string ledger;

  // A bound connection. Pushes are built once per event, not per follower: `head` is this
  // follower's eventGetMeta serialized up to `"meta":` (made at bind time for the connection ids
  // then in force, remade if they change), and each event's `meta` is serialized once and shared.
  struct Follower {
    std::weak_ptr<ClientSession> session;
    Message bind;
    uint64_t conn_generation = 0;  // the session's conn_generation() when head was made
    std::shared_ptr<const std::string> head;
    absl::Time token_expires = absl::InfiniteFuture();
    uint64_t served_version = 0;  // changes up to this version reached it in a reply
    bool withheld = false;        // a push was held back since its token expired
  };

  absl::Mutex mu;
  absl::flat_hash_map<ClientSession*, Follower> followers ABSL_GUARDED_BY(mu);
  uint64_t last_version ABSL_GUARDED_BY(mu) = 0;
  bool have_snapshot ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  grpc::ClientContext* stream_context ABSL_GUARDED_BY(mu) = nullptr;
  // The wait before the next Watch restart, doubled by each stream that ends without an event.
  absl::Duration backoff ABSL_GUARDED_BY(mu) = kFirstBackoff;
  std::unique_ptr<grpc::Alarm> restart_alarm ABSL_GUARDED_BY(mu);

  // Stops the stream; no restart is scheduled after this. Returns the pending restart, if any,
  // for the caller to cancel once it holds no lock (restart_alarm no longer changes).
  grpc::Alarm* Stop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    stopped = true;
    if (stream_context != nullptr) stream_context->TryCancel();
    return restart_alarm.get();
  }
};

// One Watch call; restarts itself (resuming after the last version) while the ledger has
// followers. Deletes itself when done.
class LedgerFollowers::WatchStream : public grpc::ClientReadReactor<mv1::WatchEvent> {
 public:
  WatchStream(LedgerFollowers* owner, std::shared_ptr<Ledger> ledger, uint64_t after)
      : owner_(owner), ledger_(std::move(ledger)) {
    {
      absl::MutexLock lock(&owner_->mu_);
      ++owner_->live_streams_;
    }
    request_.set_tenant(ledger_->tenant);
    request_.set_ledger(ledger_->ledger);
    request_.set_after_version(after);
    context_.set_wait_for_ready(true);  // wait out a metadata restart instead of failing fast
    {
      absl::MutexLock lock(&ledger_->mu);
      ledger_->stream_context = &context_;
    }
    owner_->metadata_.For(ledger_->tenant, ledger_->ledger)
        ->async()
        ->Watch(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    got_event_ = true;
    Deliver();
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    LedgerFollowers* owner = owner_;
    std::shared_ptr<Ledger> ledger = std::move(ledger_);
    bool permanent = IsPermanent(status.error_code());
    bool deleted = status.error_code() == grpc::StatusCode::NOT_FOUND;
    bool restart = false;
    std::vector<std::pair<std::shared_ptr<ClientSession>, std::string>> told;
    {
      absl::MutexLock lock(&ledger->mu);
      ledger->stream_context = nullptr;
      if (!ledger->stopped && deleted) {
        // The ledger was deleted (kiln-control): each bound connection gets an error carrying
        // its own conn, which ends its bindGetMeta stream in the client instead of a silent hang.
        for (auto& [raw, f] : ledger->followers) {
          if (std::shared_ptr<ClientSession> s = f.session.lock()) {
            std::string error = DeletedLedgerError(f.bind, s->req_id(), s->res_id());
            told.emplace_back(std::move(s), std::move(error));
          }
        }
        ledger->stopped = true;
        permanent = true;
      }
      if (!ledger->stopped && permanent) {
        // Retrying cannot help (a bad name, a shard mismatch): the follow ends. A later bind of
        // the ledger starts a new one.
        LOG(ERROR) << "watch of a ledger failed for good (" << status.error_message()
                   << "); its connections get no more pushes";
        ledger->stopped = true;
      }
      restart = !ledger->stopped;
      if (restart) {
        ledger->backoff = got_event_ ? kFirstBackoff : std::min(2 * ledger->backoff, kMaxBackoff);
        LOG(WARNING) << "watch of a ledger ended (" << status.error_message()
                     << "); resuming after "
                     << "version " << ledger->last_version << " in " << ledger->backoff;
      }
    }
    if (deleted && !told.empty()) {
      LOG(WARNING) << "a followed ledger was deleted; telling its " << told.size()
                   << " connection(s)";
    }
    for (auto& [session, error] : told) {
      session->Push(std::move(error), std::chrono::steady_clock::now());
    }
    if (restart) ScheduleRestart(owner, ledger);
    if (permanent) owner->Forget(ledger);
    delete this;
    absl::MutexLock lock(&owner->mu_);
    --owner->live_streams_;
  }

  // Starts the next stream of `ledger` after its backoff. A pending restart counts as a live
  // stream, so the destructor waits for it (Stop cancels it).
  static void ScheduleRestart(LedgerFollowers* owner, const std::shared_ptr<Ledger>& ledger) {
    {
      absl::MutexLock lock(&owner->mu_);
      ++owner->live_streams_;
    }
    absl::ReleasableMutexLock lock(&ledger->mu);
    if (ledger->stopped) {  // Unfollow or the destructor came first
      lock.Release();       // never hold a ledger's lock while taking the owner's
      absl::MutexLock l(&owner->mu_);
      --owner->live_streams_;
      return;
    }
    ledger->restart_alarm = std::make_unique<grpc::Alarm>();
    std::weak_ptr<Ledger> weak = ledger;  // the alarm belongs to the ledger: no cycle
    ledger->restart_alarm->Set(
        std::chrono::system_clock::now() + absl::ToChronoMilliseconds(ledger->backoff),
        [owner, weak](bool fired) {
          if (std::shared_ptr<Ledger> l = weak.lock()) {
            bool start = false;
            uint64_t after = 0;
            {
              absl::MutexLock lock(&l->mu);
              start = fired && !l->stopped;
              after = l->last_version;
            }
            if (start) new WatchStream(owner, l, after);
          }
          absl::MutexLock lock(&owner->mu_);
          --owner->live_streams_;
        });
  }

 private:
  void Deliver() {
    auto arrived = std::chrono::steady_clock::now();
    std::vector<std::pair<std::shared_ptr<ClientSession>, std::shared_ptr<const std::string>>>
        targets;
    {
      absl::MutexLock lock(&ledger_->mu);
      if (event_.snapshot()) {
        // First event of a fresh stream: followers bound before it may have read older state
        // (those whose reply was at least as new skip it below).
        if (ledger_->have_snapshot) return;
        ledger_->have_snapshot = true;
      } else if (event_.version() <= ledger_->last_version) {
        return;
      }
      ledger_->last_version = std::max(ledger_->last_version, event_.version());
      // The writer gets its own change too: a Fireproof client adds only *received* entries to
      // the parents of its next commit, so without the echo each of its commits would become
      // another head (the reference server avoids this by keeping one entry per connection).
      absl::Time now = owner_->clock_.Now();
      for (auto& [raw, f] : ledger_->followers) {
        if (event_.version() <= f.served_version) continue;  // its reply had this already
        if (now >= f.token_expires) {
          f.withheld = true;
          owner_->withheld_->Increment();
          continue;
        }
        std::shared_ptr<ClientSession> s = f.session.lock();
        if (s == nullptr) continue;
        if (uint64_t g = s->conn_generation(); g != f.conn_generation) {  // re-opened: new ids
          f.head = PushHead(f.bind, s->req_id(), s->res_id());
          f.conn_generation = g;
        }
        targets.emplace_back(std::move(s), f.head);
      }
    }
    if (targets.empty() || (event_.entries_size() == 0 && event_.keys_size() == 0)) return;
    auto tail = std::make_shared<std::string>(
        boost::json::serialize(EncodeMeta(event_.entries(), event_.keys())));
    tail->push_back('}');
    std::shared_ptr<const std::string> shared_tail = std::move(tail);
    for (auto& [session, head] : targets) {
      session->PushJoined(head, shared_tail, arrived);
      owner_->pushes_->Increment();
    }
  }

  static bool IsPermanent(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::FAILED_PRECONDITION:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::UNIMPLEMENTED:
      case grpc::StatusCode::OUT_OF_RANGE:
        return true;
      default:
        return false;
    }
  }

  LedgerFollowers* owner_;
  std::shared_ptr<Ledger> ledger_;
  bool got_event_ = false;
  grpc::ClientContext context_;
  mv1::WatchRequest request_;
  mv1::WatchEvent event_;
};

LedgerFollowers::LedgerFollowers(const ShardedChannels& metadata, const Clock& clock,
                                 prometheus::Registry& registry)
    : metadata_(metadata), clock_(clock) {
  pushes_ = &prometheus::BuildCounter()
                 .Name("kiln_edge_pushes_total")
                 .Help("eventGetMeta pushes queued to WebSocket connections.")
                 .Register(registry)
                 .Add({});
  withheld_ = &prometheus::BuildCounter()
                   .Name("kiln_edge_pushes_withheld_total")
                   .Help("eventGetMeta pushes not sent because the connection's token had expired.")
                   .Register(registry)
                   .Add({});
}

LedgerFollowers::~LedgerFollowers() {
  std::vector<std::pair<std::shared_ptr<Ledger>, grpc::Alarm*>> pending;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, ledger] : ledgers_) {
      absl::MutexLock l(&ledger->mu);
      if (grpc::Alarm* alarm = ledger->Stop()) pending.emplace_back(ledger, alarm);
    }
  }
  for (auto& [ledger, alarm] : pending) alarm->Cancel();  // its callback takes both locks
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_streams_ == 0; };
  mu_.Await(absl::Condition(&done));
}

void LedgerFollowers::Follow(const std::string& tenant, const std::string& ledger,
                             const std::shared_ptr<ClientSession>& session, Message bind,
                             absl::Time token_expires) {
  std::string key = LedgerKey(tenant, ledger);
  std::shared_ptr<Ledger> l;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = ledgers_.try_emplace(key);
    if (inserted) {
      it->second = std::make_shared<Ledger>(tenant, ledger);
      start = true;
    }
    l = it->second;
    auto& mine = by_session_[session.get()];
    if (std::find(mine.begin(), mine.end(), key) == mine.end()) mine.push_back(key);
    absl::MutexLock ll(&l->mu);
    uint64_t generation = session->conn_generation();
    auto head = PushHead(bind, session->req_id(), session->res_id());
    l->followers[session.get()] =
        Ledger::Follower{session, std::move(bind), generation, std::move(head), token_expires};
  }
  if (start) new WatchStream(this, l, 0);
}

void LedgerFollowers::Forget(const std::shared_ptr<Ledger>& ledger) {
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(LedgerKey(ledger->tenant, ledger->ledger));
  if (it != ledgers_.end() && it->second == ledger) ledgers_.erase(it);
}

std::shared_ptr<LedgerFollowers::Ledger> LedgerFollowers::Find(const std::string& tenant,
                                                               const std::string& ledger) {
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(LedgerKey(tenant, ledger));
  return it == ledgers_.end() ? nullptr : it->second;
}

void LedgerFollowers::Served(const std::string& tenant, const std::string& ledger,
                             ClientSession* session, uint64_t version) {
  std::shared_ptr<Ledger> l = Find(tenant, ledger);
  if (l == nullptr) return;
  absl::MutexLock lock(&l->mu);
  auto it = l->followers.find(session);
  if (it != l->followers.end()) {
    it->second.served_version = std::max(it->second.served_version, version);
  }
}

std::optional<Message> LedgerFollowers::Renew(const std::string& tenant, const std::string& ledger,
                                              ClientSession* session, absl::Time token_expires) {
  std::shared_ptr<Ledger> l = Find(tenant, ledger);
  if (l == nullptr) return std::nullopt;
  absl::MutexLock lock(&l->mu);
  auto it = l->followers.find(session);
  if (it == l->followers.end()) return std::nullopt;
  Ledger::Follower& f = it->second;
  f.token_expires = std::max(f.token_expires, token_expires);
  if (!f.withheld || clock_.Now() >= f.token_expires) return std::nullopt;
  f.withheld = false;
  return f.bind;
}

void LedgerFollowers::Unfollow(ClientSession* session) {
  std::vector<std::pair<std::shared_ptr<Ledger>, grpc::Alarm*>> pending;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_session_.find(session);
    if (it == by_session_.end()) return;
    for (const std::string& key : it->second) {
      auto lit = ledgers_.find(key);
      if (lit == ledgers_.end()) continue;
      std::shared_ptr<Ledger> l = lit->second;
      absl::MutexLock ll(&l->mu);
      l->followers.erase(session);
      if (l->followers.empty()) {
        if (grpc::Alarm* alarm = l->Stop()) pending.emplace_back(l, alarm);
        ledgers_.erase(lit);
      }
    }
    by_session_.erase(it);
  }
  for (auto& [ledger, alarm] : pending) alarm->Cancel();  // its callback takes both locks
}

size_t LedgerFollowers::followed_ledgers() const {
  absl::MutexLock lock(&mu_);
  return ledgers_.size();
}

}  // namespace kiln::edge
