// The metadata service's PostgreSQL backend: any number of metadata replicas share one
// (replicated, transactional) database and serve any ledger.
//
//   postgres://user@host:port/dbname?pool_size=16&statement_timeout_ms=5000&hints=notify
//
// Other query parameters passed to libpq: host (a Unix socket directory, or several hosts),
// port, sslmode, sslrootcert, sslcert, sslkey, application_name, target_session_attrs. A password
// in the URL is refused: it comes from PostgresKvOptions (main reads it from a file) or libpq's
// own $PGPASSWORD / ~/.pgpass.
//
// Records live in one table per record kind (docs/architecture.md, "Metadata on PostgreSQL"),
// created and migrated at startup under an advisory lock. WriteIf is one statement: a conditional
// UPDATE of the ledger's version row (or an INSERT ... ON CONFLICT DO NOTHING for the first
// commit) that every other write of the commit depends on, so two replicas can never both win.
//
// Threading: thread-safe; every call blocks on the network: I/O executor only.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/backend_url.h"
#include "services/metadata/kv_backend.h"

namespace kiln::metadata {

struct PostgresKvOptions {
  // Password for the database user; empty: libpq's defaults ($PGPASSWORD, ~/.pgpass).
  std::string password;
};

// The schema version this build creates and understands.
inline constexpr int kPostgresSchemaVersion = 1;

// Connects, creates or migrates the schema, and returns the backend. INVALID_ARGUMENT for a bad
// URL (unknown parameter, a password in it); UNAVAILABLE when the database cannot be reached;
// FAILED_PRECONDITION when the database's schema is newer than this build.
absl::StatusOr<std::unique_ptr<KvBackend>> OpenPostgresKv(const BackendUrl& url,
                                                          const PostgresKvOptions& options);

}  // namespace kiln::metadata
