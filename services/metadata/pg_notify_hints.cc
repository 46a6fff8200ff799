#include "services/metadata/pg_notify_hints.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log_limiter.h"
#include "glog/logging.h"

namespace kiln::metadata {
namespace {

constexpr char kChannel[] = "kiln_commits";
constexpr size_t kMaxPayload = 7000;  // PostgreSQL's limit is 8000 bytes

bool ReadPart(absl::string_view* in, std::string* out) {
  size_t colon = in->find(':');
  size_t len = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(in->substr(0, colon), &len) ||
      len > in->size() - colon - 1) {
    return false;
  }
  *out = std::string(in->substr(colon + 1, len));
  in->remove_prefix(colon + 1 + len);
  return true;
}

}  // namespace

std::string EncodeHintLedger(const LedgerRef& ledger) {
  return absl::StrCat(ledger.tenant().size(), ":", ledger.tenant(), ledger.ledger().size(), ":",
                      ledger.ledger());
}

std::vector<LedgerRef> DecodeHintPayload(absl::string_view payload) {
  std::vector<LedgerRef> out;
  while (!payload.empty()) {
    std::string tenant, ledger;
    if (!ReadPart(&payload, &tenant) || !ReadPart(&payload, &ledger)) break;
    out.emplace_back(std::move(tenant), std::move(ledger));
  }
  return out;
}

PgNotifyHints::PgNotifyHints(PgPool& pool) : pool_(pool) {
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

PgNotifyHints::~PgNotifyHints() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
  if (sender_.joinable()) sender_.join();
  if (listener_.joinable()) listener_.join();
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

void PgNotifyHints::Start(Callbacks callbacks) {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
  }
  callbacks_ = std::move(callbacks);
  sender_ = std::thread([this] { SendLoop(); });
  listener_ = std::thread([this] { ListenLoop(); });
}

void PgNotifyHints::Announce(const LedgerRef& ledger) {
  absl::MutexLock lock(&mu_);
  pending_.insert(EncodeHintLedger(ledger));
}

bool PgNotifyHints::WaitStopFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
  return stop_;
}

void PgNotifyHints::SendLoop() {
  static LogLimiter limiter(5, absl::Seconds(30));
  for (;;) {
    absl::flat_hash_set<std::string> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      batch.swap(pending_);
    }
    // While this batch is sent, further commits queue up for the next one.
    std::vector<std::string> payloads(1);
    for (const std::string& e : batch) {
      if (!payloads.back().empty() && payloads.back().size() + e.size() > kMaxPayload) {
        payloads.emplace_back();
      }
      payloads.back() += e;
    }
    for (const std::string& payload : payloads) {
      absl::Status s = Send(payload);
      uint64_t dropped = 0;
      if (!s.ok() && limiter.Allow(&dropped)) {
        LOG(WARNING) << "commit hint not sent (watchers on other replicas poll instead): " << s
                     << " (" << dropped << " more)";
      }
    }
  }
}

absl::Status PgNotifyHints::Send(const std::string& payload) {
  if (sender_conn_ == nullptr || PQstatus(sender_conn_.get()) != CONNECTION_OK) {
    absl::StatusOr<PgConnPtr> conn = pool_.Connect();
    if (!conn.ok()) return conn.status();
    sender_conn_ = *std::move(conn);
  }
  return PgExec(sender_conn_.get(), "SELECT pg_notify($1, $2)",
                {{kChannel, kPgText}, {payload, kPgText}}, PGRES_TUPLES_OK)
      .status();
}

void PgNotifyHints::ListenLoop() {
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    absl::StatusOr<PgConnPtr> conn = pool_.Connect();
    if (conn.ok()) {
      PgResultPtr r(PQexec(conn->get(), absl::StrCat("LISTEN ", kChannel).c_str()));
      if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
        backoff = absl::Milliseconds(100);
        if (callbacks_.maybe_lost) callbacks_.maybe_lost();
        if (!Listen(conn->get())) return;
        LOG(WARNING) << "commit hint connection lost; reconnecting";
      }
    }
    if (WaitStopFor(backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

bool PgNotifyHints::Listen(PGconn* conn) {
  for (;;) {
    struct pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int n = poll(fds, wake_[0] >= 0 ? 2 : 1, /*timeout_ms=*/1000);
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return false;
    }
    if (n < 0) continue;
    if (n == 0) continue;
    if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) return true;
    while (PGnotify* note = PQnotifies(conn)) {
      for (const LedgerRef& ledger : DecodeHintPayload(note->extra)) {
        if (callbacks_.changed) callbacks_.changed(ledger);
      }
      PQfreemem(note);
    }
  }
}

}  // namespace kiln::metadata
