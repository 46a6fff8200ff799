#include "services/metadata/pg_pool.h"

#include <poll.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log_limiter.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace kiln::metadata {
namespace {

bool ConnectionBroken(PGconn* conn) { return conn == nullptr || PQstatus(conn) != CONNECTION_OK; }

// An idle connection whose server went away (restart, failover) has an end-of-file waiting on its
// socket: notice that before sending a statement on it.
bool IdleConnectionAlive(PGconn* conn) {
  if (ConnectionBroken(conn)) return false;
  struct pollfd p = {PQsocket(conn), POLLIN, 0};
  if (poll(&p, 1, 0) > 0) {
    if (PQconsumeInput(conn) == 0) return false;
  }
  return !ConnectionBroken(conn) && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

}  // namespace

std::string PgInt8(int64_t value) {
  std::string out(8, '\0');
  uint64_t v = static_cast<uint64_t>(value);
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

int64_t PgReadInt8(const PGresult* result, int row, int column) {
  const char* p = PQgetvalue(result, row, column);
  if (PQgetlength(result, row, column) != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(v);
}

absl::Status PgError(PGconn* conn, const PGresult* result, absl::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  absl::string_view trimmed = absl::StripAsciiWhitespace(message);
  std::string text = absl::StrCat(what, ": ", trimmed);
  std::string code = state != nullptr ? state : "";
  if (ConnectionBroken(conn) || code.empty() || absl::StartsWith(code, "08") ||
      absl::StartsWith(code, "57P") || absl::StartsWith(code, "53") || code == "57014" ||
      code == "25006") {
    // 08: connection exception; 57P0x: server shutting down / starting; 53: out of resources
    // (too many connections); 57014: statement timeout; 25006: read-only (a standby after a
    // failover).
    return absl::UnavailableError(absl::StrCat("database unavailable: ", text));
  }
  if (code == "40001" || code == "40P01") return absl::AbortedError(text);
  if (code == "22021" || code == "22P05") {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant, ledger and CID strings must be UTF-8 without NUL: ", text));
  }
  return absl::InternalError(text);
}

namespace {

// Parameters laid out as libpq wants them (binary format).
struct ParamArrays {
  explicit ParamArrays(absl::Span<const PgParam> params) {
    for (const PgParam& p : params) {
      types.push_back(p.type);
      values.push_back(p.value.data());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(1);
    }
  }
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

absl::StatusOr<PgResultPtr> Checked(PGconn* conn, PgResultPtr result, ExecStatusType expect) {
  if (result == nullptr || PQresultStatus(result.get()) != expect) {
    return PgError(conn, result.get(), "PostgreSQL statement failed");
  }
  return result;
}

// Distinct statements kept prepared per connection; others run unprepared.
constexpr size_t kMaxPreparedPerConnection = 512;

}  // namespace

absl::StatusOr<PgResultPtr> PgExec(PGconn* conn, const std::string& sql,
                                   absl::Span<const PgParam> params, ExecStatusType expect) {
  ParamArrays a(params);
  PgResultPtr result(PQexecParams(conn, sql.c_str(), static_cast<int>(params.size()),
                                  a.types.data(), a.values.data(), a.lengths.data(),
                                  a.formats.data(), /*resultFormat=*/1));
  return Checked(conn, std::move(result), expect);
}

absl::StatusOr<PgResultPtr> PgPool::Run(PGconn* conn, const std::string& sql,
                                        absl::Span<const PgParam> params, ExecStatusType expect) {
  std::string name;
  bool prepare = false;
  {
    absl::MutexLock lock(&mu_);
    auto& cache = prepared_[conn];
    auto it = cache.find(sql);
    if (it != cache.end()) {
      name = it->second;
    } else if (cache.size() < kMaxPreparedPerConnection) {
      name = absl::StrCat("kiln_", cache.size());
      prepare = true;
    }
  }
  if (name.empty()) return PgExec(conn, sql, params, expect);
  ParamArrays a(params);
  if (prepare) {
    PgResultPtr prepared(PQprepare(conn, name.c_str(), sql.c_str(), static_cast<int>(params.size()),
                                   a.types.data()));
    KILN_RETURN_IF_ERROR(Checked(conn, std::move(prepared), PGRES_COMMAND_OK).status());
    absl::MutexLock lock(&mu_);
    prepared_[conn][sql] = name;
  }
  PgResultPtr result(PQexecPrepared(conn, name.c_str(), static_cast<int>(params.size()),
                                    a.values.data(), a.lengths.data(), a.formats.data(),
                                    /*resultFormat=*/1));
  return Checked(conn, std::move(result), expect);
}

PgPool::PgPool(PgPoolOptions options) : options_(std::move(options)) {
  for (const auto& [k, v] : options_.conninfo) {
    keywords_.push_back(k);
    values_.push_back(v);
  }
  keywords_.push_back("connect_timeout");
  values_.push_back(
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout))));
  keywords_.push_back("options");
  values_.push_back(
      absl::StrCat("-c statement_timeout=", absl::ToInt64Milliseconds(options_.statement_timeout),
                   " -c lock_timeout=", absl::ToInt64Milliseconds(options_.statement_timeout)));
  // Notice a dead peer on TCP connections within seconds (ignored for Unix sockets).
  for (const auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
           {"keepalives", "1"},
           {"keepalives_idle", "5"},
           {"keepalives_interval", "2"},
           {"keepalives_count", "3"},
           {"tcp_user_timeout",
            absl::StrCat(absl::ToInt64Milliseconds(options_.statement_timeout) + 5000)}}) {
    keywords_.push_back(k);
    values_.push_back(v);
  }
}

PgPool::~PgPool() {
  absl::MutexLock lock(&mu_);
  for (PGconn* c : idle_) PQfinish(c);
  idle_.clear();
}

absl::StatusOr<PgConnPtr> PgPool::Connect() const {
  std::vector<const char*> keys, values;
  for (size_t i = 0; i < keywords_.size(); ++i) {
    keys.push_back(keywords_[i].c_str());
    values.push_back(values_[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PgConnPtr conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  // Server notices ("relation already exists, skipping") are not ours to print.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    // libpq's message names hosts and socket paths: log it, keep it out of what clients see.
    static LogLimiter limiter(5, absl::Seconds(30));
    uint64_t dropped = 0;
    if (limiter.Allow(&dropped)) {
      LOG(WARNING) << "cannot connect to " << options_.display << ": "
                   << absl::StripAsciiWhitespace(PQerrorMessage(conn.get())) << " (" << dropped
                   << " more)";
    }
    return absl::UnavailableError("database unavailable: cannot connect to the metadata database");
  }
  return conn;
}

absl::StatusOr<PGconn*> PgPool::Acquire() {
  absl::Time deadline = absl::Now() + options_.acquire_timeout;
  {
    absl::MutexLock lock(&mu_);
    for (;;) {
      while (!idle_.empty()) {
        PGconn* c = idle_.back();
        idle_.pop_back();
        if (IdleConnectionAlive(c)) return c;
        prepared_.erase(c);
        PQfinish(c);
        --open_;
      }
      if (open_ < std::max<size_t>(1, options_.max_connections)) {
        ++open_;
        break;
      }
      auto free = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < std::max<size_t>(1, options_.max_connections);
      };
      if (!mu_.AwaitWithDeadline(absl::Condition(&free), deadline)) {
        return absl::UnavailableError(absl::StrCat("all ", options_.max_connections,
                                                   " database connections stayed busy for ",
                                                   absl::FormatDuration(options_.acquire_timeout)));
      }
    }
  }
  absl::StatusOr<PgConnPtr> conn = Connect();
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return conn->release();
}

void PgPool::Release(PGconn* conn, bool keep) {
  keep = keep && !ConnectionBroken(conn) && PQtransactionStatus(conn) == PQTRANS_IDLE;
  absl::MutexLock lock(&mu_);
  if (keep) {
    idle_.push_back(conn);
  } else {
    prepared_.erase(conn);
    PQfinish(conn);
    --open_;
  }
}

absl::Status PgPool::With(absl::FunctionRef<absl::Status(PGconn*)> fn) {
  absl::StatusOr<PGconn*> conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status s = fn(*conn);
  Release(*conn, s.code() != absl::StatusCode::kUnavailable);
  return s;
}

absl::StatusOr<PgResultPtr> PgPool::Exec(const std::string& sql, absl::Span<const PgParam> params,
                                         ExecStatusType expect, bool retry_once) {
  for (int attempt = 0;; ++attempt) {
    PgResultPtr out;
    absl::Status s = With([&](PGconn* conn) -> absl::Status {
      absl::StatusOr<PgResultPtr> r = Run(conn, sql, params, expect);
      if (!r.ok()) return r.status();
      out = *std::move(r);
      return absl::OkStatus();
    });
    if (s.ok()) return out;
    if (!retry_once || attempt > 0 || s.code() != absl::StatusCode::kUnavailable) return s;
  }
}

}  // namespace kiln::metadata
