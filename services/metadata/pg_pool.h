// A bounded pool of libpq connections to one PostgreSQL database, and the statement helpers the
// PostgreSQL backend uses (binary parameters and results, SQLSTATE -> absl::Status mapping).
//
// Every connection is opened with a statement timeout (server side), TCP keepalives and a TCP user
// timeout, so no statement blocks for long on a dead server. A connection that failed is dropped
// and the next request opens a new one: the pool reconnects by itself, and while the database is
// unreachable requests fail fast with UNAVAILABLE.
//
// Threading: thread-safe. Calls block (network I/O): run them on the I/O executor only. A
// connection is used by one thread at a time (checked out for the duration of one call).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace kiln::metadata {

struct PgPoolOptions {
  // libpq connection keywords and values (host, port, dbname, user, password, sslmode, ...).
  // The password, if any, is only ever passed to libpq: never logged, never in a message.
  std::vector<std::pair<std::string, std::string>> conninfo;
  // A description safe to log (no password), e.g. "postgres://kiln@db:5432/kiln".
  std::string display;
  size_t max_connections = 16;
  absl::Duration statement_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(5);
  // How long a request waits for a free connection when all are busy.
  absl::Duration acquire_timeout = absl::Seconds(5);
};

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// A statement parameter, sent in binary: bytea and text as raw bytes, int8 big-endian (PgInt8).
struct PgParam {
  std::string value;
  Oid type;  // kPgBytea, kPgText or kPgInt8
};
inline constexpr Oid kPgBytea = 17;
inline constexpr Oid kPgInt8 = 20;
inline constexpr Oid kPgText = 25;

// The binary form of an int8 parameter.
std::string PgInt8(int64_t value);
// Reads a binary int8 result field.
int64_t PgReadInt8(const PGresult* result, int row, int column);

// Maps a failed statement (or connection) to a status: UNAVAILABLE for connection loss, a server
// shutting down, too many connections or a statement timeout; ABORTED for serialization failures
// and deadlocks (retryable); INVALID_ARGUMENT for text the database cannot store (not UTF-8);
// INTERNAL otherwise. `what` says what was being done.
absl::Status PgError(PGconn* conn, const PGresult* result, absl::string_view what);

class PgPool {
 public:
  explicit PgPool(PgPoolOptions options);
  ~PgPool();

  // Runs `fn` on a pooled connection (outside any transaction; `fn` must leave it so). A
  // connection on which `fn` failed with UNAVAILABLE, or that is left broken or inside a
  // transaction, is closed. UNAVAILABLE when no connection can be opened or none is free within
  // acquire_timeout; otherwise what `fn` returns.
  absl::Status With(absl::FunctionRef<absl::Status(PGconn*)> fn);

  // Runs a statement with binary parameters and results on a pooled connection. `expect` is
  // PGRES_TUPLES_OK or PGRES_COMMAND_OK. `retry_once` (only for statements safe to repeat, i.e.
  // reads) retries on a fresh connection when a reused one turns out to be broken.
  absl::StatusOr<PgResultPtr> Exec(const std::string& sql, absl::Span<const PgParam> params,
                                   ExecStatusType expect, bool retry_once);

  // Runs a statement on `conn` (a connection given to With's callback) as PgExec does, but as a
  // prepared statement cached per connection, so repeated statements are parsed and planned once.
  absl::StatusOr<PgResultPtr> Run(PGconn* conn, const std::string& sql,
                                  absl::Span<const PgParam> params, ExecStatusType expect);

  // Opens a dedicated connection outside the pool (e.g. for LISTEN). UNAVAILABLE on failure.
  absl::StatusOr<PgConnPtr> Connect() const;

  const std::string& display() const { return options_.display; }

 private:
  absl::StatusOr<PGconn*> Acquire();
  void Release(PGconn* conn, bool keep);

  const PgPoolOptions options_;
  std::vector<std::string> keywords_;
  std::vector<std::string> values_;
  absl::Mutex mu_;
  std::vector<PGconn*> idle_ ABSL_GUARDED_BY(mu_);
  // Prepared statements of each open connection: SQL text -> statement name.
  absl::flat_hash_map<PGconn*, absl::flat_hash_map<std::string, std::string>> prepared_
      ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
};

// Runs one statement on `conn` with binary parameters and binary results.
absl::StatusOr<PgResultPtr> PgExec(PGconn* conn, const std::string& sql,
                                   absl::Span<const PgParam> params, ExecStatusType expect);

}  // namespace kiln::metadata
