#include "services/edge/followers.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "boost/json/serialize.hpp"
#include "common/unlabelled_metrics.h"
#include "glog/logging.h"

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

}  // namespace

// The followers of one ledger and the state of its Watch stream.
class LedgerFollowers::Ledger {
 public:
  explicit Ledger(LedgerRef ref) : ref(std::move(ref)) {}

  const LedgerRef ref;

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
  std::shared_ptr<LedgerWatch> watch ABSL_GUARDED_BY(mu);

  // Stops pushes; no watch starts after this. Returns the watch for the caller to cancel once
  // it holds no lock (its on_end takes the owner's).
  std::shared_ptr<LedgerWatch> Stop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    stopped = true;
    return std::move(watch);
  }
};

LedgerFollowers::LedgerFollowers(LedgerWatcher& watcher, const Clock& clock,
                                 prometheus::Registry& registry)
    : watcher_(watcher), clock_(clock) {
  pushes_ = &UnlabelledCounter(registry, "kiln_edge_pushes_total",
                               "eventGetMeta pushes queued to WebSocket connections.");
  withheld_ = &UnlabelledCounter(
      registry, "kiln_edge_pushes_withheld_total",
      "eventGetMeta pushes not sent because the connection's token had expired.");
}

LedgerFollowers::~LedgerFollowers() {
  std::vector<std::shared_ptr<LedgerWatch>> watches;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, ledger] : ledgers_) {
      absl::MutexLock l(&ledger->mu);
      if (auto watch = ledger->Stop()) watches.push_back(std::move(watch));
    }
  }
  for (auto& watch : watches) watch->Cancel();  // its on_end takes mu_
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_watches_ == 0; };
  mu_.Await(absl::Condition(&done));
}

void LedgerFollowers::StartWatch(const std::shared_ptr<Ledger>& ledger) {
  {
    absl::MutexLock lock(&mu_);
    ++live_watches_;
  }
  // The watch belongs to the ledger: on_event holds it weakly; on_end holds it only until the
  // watch ends, when the watch drops its handlers.
  std::weak_ptr<Ledger> weak = ledger;
  LedgerWatcher::Handlers handlers;
  handlers.on_event = [this, weak](const metadata::v1::WatchEvent& event) {
    if (std::shared_ptr<Ledger> l = weak.lock()) Deliver(*l, event);
  };
  handlers.on_end = [this, ledger](const absl::Status& status) { WatchEnded(ledger, status); };
  std::shared_ptr<LedgerWatch> watch = watcher_.Watch(ledger->ref, std::move(handlers));
  bool cancel = false;
  {
    absl::MutexLock lock(&ledger->mu);
    cancel = ledger->stopped;  // Unfollow or the destructor came first
    if (!cancel) ledger->watch = watch;
  }
  if (cancel) watch->Cancel();
}

void LedgerFollowers::WatchEnded(const std::shared_ptr<Ledger>& ledger,
                                 const absl::Status& status) {
  if (status.code() != absl::StatusCode::kCancelled) {
    // Retrying cannot help (a bad name, a shard mismatch, a deleted ledger): the follow ends. A
    // later bind of the ledger starts a new one.
    bool deleted = status.code() == absl::StatusCode::kNotFound;
    std::vector<std::pair<std::shared_ptr<ClientSession>, std::string>> told;
    {
      absl::MutexLock lock(&ledger->mu);
      if (deleted) {
        // Deleted through kiln-control: each bound connection gets an error carrying its own
        // conn, which ends its bindGetMeta stream in the client instead of a silent hang.
        for (auto& [raw, f] : ledger->followers) {
          if (std::shared_ptr<ClientSession> s = f.session.lock()) {
            std::string error = DeletedLedgerError(f.bind, s->req_id(), s->res_id());
            told.emplace_back(std::move(s), std::move(error));
          }
        }
      }
      ledger->stopped = true;
      ledger->watch.reset();
    }
    if (deleted) {
      LOG(WARNING) << "a followed ledger was deleted; telling its " << told.size()
                   << " connection(s)";
    } else {
      LOG(ERROR) << "watch of a ledger failed for good (" << status.message()
                 << "); its connections get no more pushes";
    }
    for (auto& [session, error] : told) {
      session->Push(std::move(error), std::chrono::steady_clock::now());
    }
    Forget(ledger);
  }
  absl::MutexLock lock(&mu_);
  --live_watches_;
}

void LedgerFollowers::Deliver(Ledger& ledger, const metadata::v1::WatchEvent& event) {
  auto arrived = std::chrono::steady_clock::now();
  std::vector<std::pair<std::shared_ptr<ClientSession>, std::shared_ptr<const std::string>>>
      targets;
  {
    absl::MutexLock lock(&ledger.mu);
    if (event.snapshot()) {
      // First event of a fresh stream: followers bound before it may have read older state
      // (those whose reply was at least as new skip it below).
      if (ledger.have_snapshot) return;
      ledger.have_snapshot = true;
    } else if (event.version() <= ledger.last_version) {
      return;
    }
    ledger.last_version = std::max(ledger.last_version, event.version());
    // The writer gets its own change too: a Fireproof client adds only *received* entries to
    // the parents of its next commit, so without the echo each of its commits would become
    // another head (the reference server avoids this by keeping one entry per connection).
    absl::Time now = clock_.Now();
    for (auto& [raw, f] : ledger.followers) {
      if (event.version() <= f.served_version) continue;  // its reply had this already
      if (now >= f.token_expires) {
        f.withheld = true;
        withheld_->Increment();
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
  if (targets.empty() || (event.entries_size() == 0 && event.keys_size() == 0)) return;
  auto tail = std::make_shared<std::string>(
      boost::json::serialize(EncodeMeta(event.entries(), event.keys())));
  tail->push_back('}');
  std::shared_ptr<const std::string> shared_tail = std::move(tail);
  for (auto& [session, head] : targets) {
    session->PushJoined(head, shared_tail, arrived);
    pushes_->Increment();
  }
}

void LedgerFollowers::Follow(const LedgerRef& key, const std::shared_ptr<ClientSession>& session,
                             Message bind, absl::Time token_expires) {
  std::shared_ptr<Ledger> l;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = ledgers_.try_emplace(key);
    if (inserted) {
      it->second = std::make_shared<Ledger>(key);
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
  if (start) StartWatch(l);
}

void LedgerFollowers::Forget(const std::shared_ptr<Ledger>& ledger) {
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(ledger->ref);
  if (it != ledgers_.end() && it->second == ledger) ledgers_.erase(it);
}

std::shared_ptr<LedgerFollowers::Ledger> LedgerFollowers::Find(const LedgerRef& ledger) {
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(ledger);
  return it == ledgers_.end() ? nullptr : it->second;
}

void LedgerFollowers::Served(const LedgerRef& ledger, ClientSession* session, uint64_t version) {
  std::shared_ptr<Ledger> l = Find(ledger);
  if (l == nullptr) return;
  absl::MutexLock lock(&l->mu);
  auto it = l->followers.find(session);
  if (it != l->followers.end()) {
    it->second.served_version = std::max(it->second.served_version, version);
  }
}

std::optional<Message> LedgerFollowers::Renew(const LedgerRef& ledger, ClientSession* session,
                                              absl::Time token_expires) {
  std::shared_ptr<Ledger> l = Find(ledger);
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
  std::vector<std::shared_ptr<LedgerWatch>> watches;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_session_.find(session);
    if (it == by_session_.end()) return;
    for (const LedgerRef& key : it->second) {
      auto lit = ledgers_.find(key);
      if (lit == ledgers_.end()) continue;
      std::shared_ptr<Ledger> l = lit->second;
      absl::MutexLock ll(&l->mu);
      l->followers.erase(session);
      if (l->followers.empty()) {
        if (auto watch = l->Stop()) watches.push_back(std::move(watch));
        ledgers_.erase(lit);
      }
    }
    by_session_.erase(it);
  }
  for (auto& watch : watches) watch->Cancel();  // its on_end takes mu_
}

size_t LedgerFollowers::followed_ledgers() const {
  absl::MutexLock lock(&mu_);
  return ledgers_.size();
}

}  // namespace kiln::edge
