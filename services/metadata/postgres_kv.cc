#include "services/metadata/postgres_kv.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "kiln/metadata/v1/storage.pb.h"
#include "services/metadata/pg_notify_hints.h"
#include "services/metadata/pg_pool.h"
#include "services/metadata/record_keys.h"

namespace kiln::metadata {
namespace {

// One table per record kind. Every table is keyed by the record's storage key (record_keys.h),
// so ordered scans behave exactly as on RocksDB; the decoded columns are for operators' queries
// (a ledger's rows: WHERE tenant = $1 AND ledger = $2).
struct Table {
  RecordType type;
  const char* name;
  const char* extra_column;  // the decoded suffix (or version) column
  Oid extra_type;
  const char* value_column;  // nullptr: the record has no value
  const char* on_conflict;
};

constexpr Table kTables[] = {
    {RecordType::kEntry, "kiln_entries", "cid", kPgText, "record",
     "DO UPDATE SET record = EXCLUDED.record"},
    {RecordType::kLog, "kiln_log", "seq", kPgInt8, "record",
     "DO UPDATE SET record = EXCLUDED.record"},
    {RecordType::kHeader, "kiln_ledgers", "version", kPgInt8, "header",
     "DO UPDATE SET version = EXCLUDED.version, header = EXCLUDED.header"},
    {RecordType::kKey, "kiln_keys", "fingerprint", kPgBytea, "record",
     "DO UPDATE SET record = EXCLUDED.record"},
    {RecordType::kReferenced, "kiln_references", "cid", kPgText, nullptr, "DO NOTHING"},
};

const Table* TableFor(char type) {
  for (const Table& t : kTables) {
    if (static_cast<char>(t.type) == type) return &t;
  }
  return nullptr;
}

std::string ValueExpr(const Table& t) {
  return t.value_column != nullptr ? t.value_column : "''::bytea";
}

// Schema migrations, in order; kPostgresSchemaVersion is their count. Never edit a released
// step: add one.
const char* const kMigrations[] = {
    // 1: one table per record kind.
    R"sql(
CREATE TABLE kiln_ledgers (
  key bytea PRIMARY KEY, tenant text NOT NULL, ledger text NOT NULL,
  version bigint NOT NULL, header bytea NOT NULL);
COMMENT ON TABLE kiln_ledgers IS 'Kiln: one row per ledger; version is the compare-and-set guard, header a kiln.metadata.v1.LedgerHeader';
CREATE TABLE kiln_entries (
  key bytea PRIMARY KEY, tenant text NOT NULL, ledger text NOT NULL,
  cid text NOT NULL, record bytea NOT NULL);
COMMENT ON TABLE kiln_entries IS 'Kiln: accepted meta entries (kiln.metadata.v1.StoredEntry)';
CREATE TABLE kiln_references (
  key bytea PRIMARY KEY, tenant text NOT NULL, ledger text NOT NULL, cid text NOT NULL);
COMMENT ON TABLE kiln_references IS 'Kiln: CIDs named as parents by accepted entries';
CREATE TABLE kiln_keys (
  key bytea PRIMARY KEY, tenant text NOT NULL, ledger text NOT NULL,
  fingerprint bytea NOT NULL, record bytea NOT NULL);
COMMENT ON TABLE kiln_keys IS 'Kiln: gossiped ledger keys, sealed under the KEK (kiln.metadata.v1.StoredKey); never plaintext';
CREATE TABLE kiln_log (
  key bytea PRIMARY KEY, tenant text NOT NULL, ledger text NOT NULL,
  seq bigint NOT NULL, record bytea NOT NULL);
COMMENT ON TABLE kiln_log IS 'Kiln: the hash-chained commit log (kiln.metadata.v1.LogRecord bytes, exactly as hashed)';
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPostgresSchemaVersion);

// Any constant: serialises concurrent migrations of replicas starting at once.
constexpr int64_t kMigrationLockId = 0x6b696c6e6d657461;  // "kilnmeta"

// At most this many parameters in one statement (PostgreSQL's limit is 65535).
constexpr size_t kMaxParams = 30000;

class PostgresKv : public KvBackend {
 public:
  PostgresKv(std::unique_ptr<PgPool> pool, bool notify) : pool_(std::move(pool)), notify_(notify) {}

  absl::Status Migrate() {
    return pool_->With([](PGconn* conn) -> absl::Status {
      absl::Status s = MigrateIn(conn);
      if (!s.ok()) PgResultPtr(PQexec(conn, "ROLLBACK"));
      return s;
    });
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    KILN_ASSIGN_OR_RETURN(auto values, MultiGet({std::string(key)}));
    return std::move(values[0]);
  }

  // One statement per kMaxParams keys: a UNION ALL of one lookup per table involved.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      absl::Span<const std::string> keys) override {
    std::vector<std::optional<std::string>> out(keys.size());
    std::vector<size_t> valid;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i].empty() && TableFor(keys[i][0]) != nullptr) valid.push_back(i);
    }
    for (size_t from = 0; from < valid.size(); from += kMaxParams) {
      size_t n = std::min(kMaxParams, valid.size() - from);
      std::map<char, std::vector<std::string>> placeholders;  // by table
      std::vector<PgParam> params;
      std::map<std::string, std::vector<size_t>> wanted;
      for (size_t j = 0; j < n; ++j) {
        const std::string& key = keys[valid[from + j]];
        wanted[key].push_back(valid[from + j]);
        params.push_back({key, kPgBytea});
        placeholders[key[0]].push_back(absl::StrCat("$", params.size()));
      }
      std::vector<std::string> selects;
      for (const auto& [type, ph] : placeholders) {
        const Table& t = *TableFor(type);
        selects.push_back(absl::StrCat("SELECT key, ", ValueExpr(t), " FROM ", t.name,
                                       " WHERE key IN (", absl::StrJoin(ph, ","), ")"));
      }
      KILN_ASSIGN_OR_RETURN(
          PgResultPtr r, pool_->Exec(absl::StrJoin(selects, " UNION ALL "), params, PGRES_TUPLES_OK,
                                     /*retry_once=*/true));
      for (int row = 0; row < PQntuples(r.get()); ++row) {
        std::string key(PQgetvalue(r.get(), row, 0), PQgetlength(r.get(), row, 0));
        std::string value(PQgetvalue(r.get(), row, 1), PQgetlength(r.get(), row, 1));
        for (size_t i : wanted[key]) out[i] = value;
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(absl::string_view start,
                                                                        absl::string_view end,
                                                                        size_t limit) override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Table& t : kTables) {
      const char type = static_cast<char>(t.type);
      if (out.size() >= limit) break;
      // Every key in the table starts with `type`; skip tables wholly outside [start, end).
      if (!start.empty() && static_cast<unsigned char>(start[0]) > static_cast<unsigned char>(type))
        continue;
      if (end.empty() || static_cast<unsigned char>(end[0]) < static_cast<unsigned char>(type))
        continue;
      std::vector<PgParam> params;
      std::string sql = absl::StrCat("SELECT key, ", ValueExpr(t), " FROM ", t.name, " WHERE true");
      if (!start.empty() && start[0] == type) {
        params.push_back({std::string(start), kPgBytea});
        absl::StrAppend(&sql, " AND key >= $", params.size());
      }
      if (end[0] == type) {
        params.push_back({std::string(end), kPgBytea});
        absl::StrAppend(&sql, " AND key < $", params.size());
      }
      params.push_back({PgInt8(static_cast<int64_t>(limit - out.size())), kPgInt8});
      absl::StrAppend(&sql, " ORDER BY key LIMIT $", params.size());
      KILN_ASSIGN_OR_RETURN(PgResultPtr r,
                            pool_->Exec(sql, params, PGRES_TUPLES_OK, /*retry_once=*/true));
      for (int row = 0; row < PQntuples(r.get()); ++row) {
        out.emplace_back(std::string(PQgetvalue(r.get(), row, 0), PQgetlength(r.get(), row, 0)),
                         std::string(PQgetvalue(r.get(), row, 1), PQgetlength(r.get(), row, 1)));
      }
    }
    return out;
  }

  absl::Status Write(const std::vector<std::pair<std::string, std::string>>& puts) override {
    return WriteRows(nullptr, puts);
  }

  absl::Status WriteIf(const WriteCondition& condition,
                       const std::vector<std::pair<std::string, std::string>>& puts) override {
    return WriteRows(&condition, puts);
  }

  // One statement (one implicit transaction): a DELETE per table that a range can touch.
  absl::Status DeleteRanges(
      const std::vector<std::pair<std::string, std::string>>& ranges) override {
    std::vector<PgParam> params;
    std::vector<std::string> ctes;
    for (const auto& [start, end] : ranges) {
      if (!(start < end)) continue;
      for (const Table& t : kTables) {
        const unsigned char type = static_cast<unsigned char>(t.type);
        if (!start.empty() && static_cast<unsigned char>(start[0]) > type) continue;
        if (end.empty() || static_cast<unsigned char>(end[0]) < type) continue;
        params.push_back({start, kPgBytea});
        std::string lo = absl::StrCat("$", params.size());
        params.push_back({end, kPgBytea});
        std::string hi = absl::StrCat("$", params.size());
        ctes.push_back(absl::StrCat("d", ctes.size(), " AS (DELETE FROM ", t.name,
                                    " WHERE key >= ", lo, " AND key < ", hi, ")"));
      }
    }
    if (ctes.empty()) return absl::OkStatus();
    std::string sql = absl::StrCat("WITH ", absl::StrJoin(ctes, ", "), " SELECT 1");
    return pool_->Exec(sql, params, PGRES_TUPLES_OK, /*retry_once=*/false).status();
  }

  bool shared() const override { return true; }

  std::unique_ptr<CommitHints> NewCommitHints() override {
    if (!notify_) return nullptr;
    return std::make_unique<PgNotifyHints>(*pool_);
  }

 private:
  struct Row {
    const Table* table;
    std::vector<PgParam> params;  // key, tenant, ledger, extra[, value]
  };

  static absl::Status MigrateIn(PGconn* conn) {
    KILN_RETURN_IF_ERROR(PgExec(conn, "BEGIN", {}, PGRES_COMMAND_OK).status());
    KILN_RETURN_IF_ERROR(PgExec(conn, "SELECT pg_advisory_xact_lock($1)",
                                {{PgInt8(kMigrationLockId), kPgInt8}}, PGRES_TUPLES_OK)
                             .status());
    KILN_RETURN_IF_ERROR(PgExec(conn,
                                "CREATE TABLE IF NOT EXISTS kiln_schema_version ("
                                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                                "DEFAULT now())",
                                {}, PGRES_COMMAND_OK)
                             .status());
    KILN_ASSIGN_OR_RETURN(
        PgResultPtr r,
        PgExec(conn, "SELECT coalesce(max(version), 0)::bigint FROM kiln_schema_version", {},
               PGRES_TUPLES_OK));
    int64_t current = PgReadInt8(r.get(), 0, 0);
    if (current > kPostgresSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("the database's Kiln schema is version ", current,
                       ", newer than this kiln-metadata "
                       "understands (",
                       kPostgresSchemaVersion, "); run a newer kiln-metadata"));
    }
    for (int64_t v = current + 1; v <= kPostgresSchemaVersion; ++v) {
      PgResultPtr res(PQexec(conn, kMigrations[v - 1]));
      if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
        return PgError(conn, res.get(), absl::StrCat("applying schema migration ", v));
      }
      KILN_RETURN_IF_ERROR(PgExec(conn, "INSERT INTO kiln_schema_version (version) VALUES ($1)",
                                  {{PgInt8(v), kPgInt8}}, PGRES_COMMAND_OK)
                               .status());
      LOG(INFO) << "PostgreSQL: applied Kiln schema migration " << v;
    }
    return PgExec(conn, "COMMIT", {}, PGRES_COMMAND_OK).status();
  }

  static absl::StatusOr<Row> MakeRow(const std::string& key, const std::string& value) {
    KILN_ASSIGN_OR_RETURN(DecodedKey d, DecodeRecordKey(key));
    Row row;
    row.table = TableFor(static_cast<char>(d.type));
    row.params.push_back({key, kPgBytea});
    row.params.push_back({d.tenant, kPgText});
    row.params.push_back({d.ledger, kPgText});
    switch (d.type) {
      case RecordType::kLog: {
        KILN_ASSIGN_OR_RETURN(uint64_t seq, DecodeSeqSuffix(d.suffix));
        row.params.push_back({PgInt8(static_cast<int64_t>(seq)), kPgInt8});
        break;
      }
      case RecordType::kHeader: {
        v1::LedgerHeader header;
        if (!header.ParseFromString(value)) {
          return absl::InvalidArgumentError("a ledger header record must be a LedgerHeader");
        }
        row.params.push_back({PgInt8(static_cast<int64_t>(header.version())), kPgInt8});
        break;
      }
      default:
        row.params.push_back({d.suffix, row.table->extra_type});
    }
    if (row.table->value_column != nullptr) row.params.push_back({value, kPgBytea});
    return row;
  }

  static std::string Columns(const Table& t) {
    return absl::StrCat("key, tenant, ledger, ", t.extra_column,
                        t.value_column != nullptr ? absl::StrCat(", ", t.value_column) : "");
  }

  // Appends to `params` and returns "($a,$b,...)".
  static std::string Tuple(const Row& row, std::vector<PgParam>* params) {
    std::vector<std::string> ph;
    for (const PgParam& p : row.params) {
      params->push_back(p);
      ph.push_back(absl::StrCat("$", params->size()));
    }
    return absl::StrCat("(", absl::StrJoin(ph, ","), ")");
  }

  // The guard CTE: the conditional update (or first insert) of the ledger's version row.
  static absl::StatusOr<std::string> Guard(const WriteCondition& condition, const Row& header,
                                           std::vector<PgParam>* params) {
    if (!condition.expected.has_value()) {
      std::string values = Tuple(header, params);
      return absl::StrCat("g AS (INSERT INTO kiln_ledgers (", Columns(*header.table), ") VALUES ",
                          values, " ON CONFLICT (key) DO NOTHING RETURNING 1)");
    }
    v1::LedgerHeader expected;
    if (!expected.ParseFromString(*condition.expected)) {
      return absl::InvalidArgumentError("the expected header is not a LedgerHeader");
    }
    params->push_back(header.params[0]);  // key
    std::string key = absl::StrCat("$", params->size());
    params->push_back(header.params[3]);  // new version
    std::string version = absl::StrCat("$", params->size());
    params->push_back(header.params[4]);  // new header
    std::string bytes = absl::StrCat("$", params->size());
    params->push_back({PgInt8(static_cast<int64_t>(expected.version())), kPgInt8});
    std::string old_version = absl::StrCat("$", params->size());
    return absl::StrCat("g AS (UPDATE kiln_ledgers SET version = ", version, ", header = ", bytes,
                        " WHERE key = ", key, " AND version = ", old_version, " RETURNING 1)");
  }

  // One statement inserting `rows` (all, or none when `guarded` and g returned no row).
  static std::string InsertCtes(const std::vector<const Row*>& rows, bool guarded,
                                std::vector<PgParam>* params, int* cte_count) {
    std::map<const Table*, std::vector<const Row*>> by_table;
    for (const Row* r : rows) by_table[r->table].push_back(r);
    std::vector<std::string> ctes;
    for (const auto& [table, table_rows] : by_table) {
      std::vector<std::string> tuples;
      for (const Row* r : table_rows) tuples.push_back(Tuple(*r, params));
      ctes.push_back(absl::StrCat(
          "w", (*cte_count)++, " AS (INSERT INTO ", table->name, " (", Columns(*table),
          ") SELECT v.* FROM (VALUES ", absl::StrJoin(tuples, ","), ") AS v",
          guarded ? " CROSS JOIN g" : "", " ON CONFLICT (key) ", table->on_conflict, ")"));
    }
    return absl::StrJoin(ctes, ", ");
  }

  absl::Status WriteRows(const WriteCondition* condition,
                         const std::vector<std::pair<std::string, std::string>>& puts) {
    // Last put of a key wins, as in a RocksDB batch (a statement may touch a row only once).
    std::map<std::string, const std::string*> latest;
    for (const auto& [k, v] : puts) latest[k] = &v;
    std::vector<Row> rows;
    std::optional<Row> header;
    for (const auto& [k, v] : latest) {
      KILN_ASSIGN_OR_RETURN(Row row, MakeRow(k, *v));
      if (condition != nullptr && k == condition->key) {
        header = std::move(row);
      } else {
        rows.push_back(std::move(row));
      }
    }
    if (condition != nullptr &&
        (!header.has_value() || header->table->type != RecordType::kHeader)) {
      return absl::InvalidArgumentError(
          "PostgreSQL conditional writes must condition on a ledger header they also write");
    }
    // Split into statements under the parameter limit.
    std::vector<std::vector<const Row*>> chunks(1);
    size_t params_in_chunk = condition != nullptr ? 6 : 0;
    for (const Row& r : rows) {
      if (params_in_chunk + r.params.size() > kMaxParams) {
        chunks.emplace_back();
        params_in_chunk = 0;
      }
      chunks.back().push_back(&r);
      params_in_chunk += r.params.size();
    }
    return pool_->With([&](PGconn* conn) -> absl::Status {
      absl::Status s = WriteChunks(conn, condition, header ? &*header : nullptr, chunks);
      if (!s.ok() && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PgResultPtr(PQexec(conn, "ROLLBACK"));
      }
      return s;
    });
  }

  absl::Status WriteChunks(PGconn* conn, const WriteCondition* condition, const Row* header,
                           const std::vector<std::vector<const Row*>>& chunks) {
    const bool one_statement = chunks.size() == 1;
    if (!one_statement) KILN_RETURN_IF_ERROR(PgExec(conn, "BEGIN", {}, PGRES_COMMAND_OK).status());
    for (size_t c = 0; c < chunks.size(); ++c) {
      std::vector<PgParam> params;
      std::vector<std::string> ctes;
      const bool guarded = condition != nullptr && c == 0;
      if (guarded) {
        KILN_ASSIGN_OR_RETURN(std::string guard, Guard(*condition, *header, &params));
        ctes.push_back(std::move(guard));
      }
      int cte_count = 0;
      std::string inserts = InsertCtes(chunks[c], guarded && one_statement, &params, &cte_count);
      if (!inserts.empty()) ctes.push_back(std::move(inserts));
      if (ctes.empty()) continue;
      std::string sql = absl::StrCat("WITH ", absl::StrJoin(ctes, ", "), " SELECT ",
                                     guarded ? "(SELECT count(*) FROM g)" : "1");
      KILN_ASSIGN_OR_RETURN(PgResultPtr r, pool_->Run(conn, sql, params, PGRES_TUPLES_OK));
      if (guarded && PgReadInt8(r.get(), 0, 0) != 1) {
        if (!one_statement) PgResultPtr(PQexec(conn, "ROLLBACK"));
        return absl::AbortedError("the ledger's version changed since it was read");
      }
    }
    if (!one_statement) return PgExec(conn, "COMMIT", {}, PGRES_COMMAND_OK).status();
    return absl::OkStatus();
  }

  std::unique_ptr<PgPool> pool_;
  const bool notify_;
};

// libpq parameters passed through from the URL's query.
constexpr const char* kPassThrough[] = {
    "host",    "port",   "sslmode",          "sslrootcert",
    "sslcert", "sslkey", "application_name", "target_session_attrs"};

}  // namespace

absl::StatusOr<std::unique_ptr<KvBackend>> OpenPostgresKv(const BackendUrl& url,
                                                          const PostgresKvOptions& options) {
  std::vector<std::string> known = {"pool_size", "statement_timeout_ms", "connect_timeout_s",
                                    "hints"};
  for (const char* p : kPassThrough) known.push_back(p);
  KILN_RETURN_IF_ERROR(url.CheckParams(known));
  if (url.has_password || url.params.count("password") > 0) {
    return absl::InvalidArgumentError(
        "put no password in the postgres:// URL: use --backend_password_file or $PGPASSWORD");
  }
  std::string dbname = url.path;
  if (!dbname.empty() && dbname[0] == '/') dbname.erase(0, 1);
  if (dbname.empty() || dbname.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        "postgres backend URL needs a database name: postgres://user@host:5432/kiln");
  }
  KILN_ASSIGN_OR_RETURN(uint64_t pool_size, url.UintParam("pool_size", 16));
  KILN_ASSIGN_OR_RETURN(uint64_t timeout_ms, url.UintParam("statement_timeout_ms", 5000));
  KILN_ASSIGN_OR_RETURN(uint64_t connect_s, url.UintParam("connect_timeout_s", 5));
  std::string hints = url.Param("hints", "notify");
  if (hints != "notify" && hints != "poll") {
    return absl::InvalidArgumentError("hints must be notify (LISTEN/NOTIFY) or poll");
  }
  if (pool_size == 0 || timeout_ms == 0) {
    return absl::InvalidArgumentError("pool_size and statement_timeout_ms must be positive");
  }
  PgPoolOptions pool;
  pool.max_connections = pool_size;
  pool.statement_timeout = absl::Milliseconds(timeout_ms);
  pool.connect_timeout = absl::Seconds(connect_s);
  pool.acquire_timeout = absl::Milliseconds(timeout_ms);
  pool.conninfo.emplace_back("dbname", dbname);
  if (!url.host.empty()) pool.conninfo.emplace_back("host", url.host);
  if (!url.port.empty()) pool.conninfo.emplace_back("port", url.port);
  if (!url.user.empty()) pool.conninfo.emplace_back("user", url.user);
  for (const char* p : kPassThrough) {
    auto it = url.params.find(p);
    if (it != url.params.end()) pool.conninfo.emplace_back(p, it->second);
  }
  if (url.params.count("application_name") == 0) {
    pool.conninfo.emplace_back("application_name", "kiln-metadata");
  }
  if (!options.password.empty()) pool.conninfo.emplace_back("password", options.password);
  pool.display = absl::StrCat("postgres://", url.user, url.user.empty() ? "" : "@", url.host,
                              url.port.empty() ? "" : ":", url.port, "/", dbname);
  auto kv =
      std::make_unique<PostgresKv>(std::make_unique<PgPool>(std::move(pool)), hints == "notify");
  KILN_RETURN_IF_ERROR(kv->Migrate());
  return std::unique_ptr<KvBackend>(std::move(kv));
}

}  // namespace kiln::metadata
