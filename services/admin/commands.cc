#include "services/admin/commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/aead.h"
#include "common/shards.h"
#include "google/protobuf/util/json_util.h"
#include "kiln/admin/v1/admin.grpc.pb.h"
#include "services/admin/blobs_repair.h"
#include "services/admin/bundle_verify.h"
#include "services/admin/control_client.h"

namespace kiln::admin {
namespace {

namespace cv1 = ::kiln::control::v1;

int Usage(const std::string& command, const std::string& message) {
  std::cerr << "kiln-admin " << command << ": " << message << std::endl;
  return 2;
}

// Reports a refused call; exit status 1 (2 when the connection options were the problem).
int Refused(const std::string& command, const grpc::Status& s) {
  std::cerr << "kiln-admin " << command << ": " << s.error_message() << " ("
            << absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())) << ")";
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "; is kiln-control running at the target? (with TLS it refuses plaintext "
                 "clients, and with mutual TLS any client without a certificate from its CA)";
  }
  std::cerr << std::endl;
  return 1;
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  std::cout << out << std::endl;
}

// Opens the control connection or reports why not (exit status 2).
std::optional<ControlClient> Connect(const std::string& command, const Args& args) {
  absl::StatusOr<ControlClient> client = ControlClient::FromArgs(args);
  if (!client.ok()) {
    Usage(command, std::string(client.status().message()));
    return std::nullopt;
  }
  return *std::move(client);
}

int Checkpoint(const Args& args) {
  const std::string target = args.Get("target"), name = args.Get("name");
  if (target.empty() || name.empty())
    return Usage("checkpoint", "--target and --name are required");
  auto stub = kiln::admin::v1::AdminService::NewStub(NewPeerChannel(target));
  grpc::ClientContext context;
  absl::Duration timeout = absl::Minutes(10);
  if (args.Has("timeout") && !absl::ParseDuration(args.Get("timeout"), &timeout)) {
    return Usage("checkpoint", "--timeout must be a duration such as 10m");
  }
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  kiln::admin::v1::CreateCheckpointRequest request;
  request.set_name(name);
  kiln::admin::v1::CreateCheckpointResponse response;
  grpc::Status s = stub->CreateCheckpoint(&context, request, &response);
  if (!s.ok()) return Refused("checkpoint", s);
  if (args.Switch("json")) {
    PrintJson(response);
  } else {
    std::cout << response.path() << std::endl;
  }
  return 0;
}

int BlobsRepair(const Args& args) {
  absl::Duration timeout = absl::Minutes(10);
  if (args.Has("timeout") && !absl::ParseDuration(args.Get("timeout"), &timeout)) {
    return Usage("blobs repair", "--timeout must be a duration such as 10m");
  }
  return kiln::admin_cli::RunBlobsRepair(
      {args.Get("target"), args.Get("tenant"), args.Get("ledger"), args.Get("store"), timeout},
      std::cout, std::cerr);
}

int BundleVerify(const Args& args) {
  return kiln::admin_cli::RunBundleVerify(
      {args.words[0], args.Get("key_file"), args.Switch("json")}, std::cout, std::cerr);
}

int LedgersExport(const Args& args) {
  const std::string command = "ledgers export";
  const std::string out_path = args.Get("out"), key_file = args.Get("key_file");
  if (out_path.empty() || key_file.empty()) {
    return Usage(command, "--out FILE and --key-file K are required");
  }
  absl::StatusOr<std::string> key = kiln::admin_cli::ReadKeyFile(key_file);
  if (!key.ok())
    return Usage(command, "key file " + key_file + ": " + std::string(key.status().message()));
  auto client = Connect(command, args);
  if (!client) return 2;
  auto ctx = client->Context();
  cv1::ExportLedgerRequest request;
  request.set_tenant(args.words[0]);
  request.set_ledger(args.words[1]);
  request.set_sealing_key(*key);
  const std::string tmp = out_path + ".partial";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Usage(command, "cannot write " + tmp);
  auto reader = client->stub().ExportLedger(ctx.get(), request);
  cv1::ExportLedgerResponse chunk;
  uint64_t bytes = 0;
  while (reader->Read(&chunk)) {
    out << chunk.data();
    bytes += chunk.data().size();
  }
  grpc::Status s = reader->Finish();
  out.close();
  if (!s.ok()) {
    std::remove(tmp.c_str());
    return Refused(command, s);
  }
  if (!out || std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Usage(command, "cannot write " + out_path);
  }
  if (args.Switch("json")) {
    std::cout << "{\"out\":\"" << absl::CEscape(out_path) << "\",\"bytes\":" << bytes << "}"
              << std::endl;
  } else {
    std::cout << "exported " << args.words[0] << "/" << args.words[1] << " to " << out_path << " ("
              << bytes << " bytes)" << std::endl;
  }
  return 0;
}

int LedgersImport(const Args& args) {
  const std::string command = "ledgers import";
  const std::string key_file = args.Get("key_file");
  if (key_file.empty()) return Usage(command, "--key-file K (the export's key) is required");
  absl::StatusOr<std::string> key = kiln::admin_cli::ReadKeyFile(key_file);
  if (!key.ok()) return Usage(command, std::string(key.status().message()));
  absl::StatusOr<std::string> file = kiln::admin_cli::ReadWholeFile(args.words[0]);
  if (!file.ok()) return Usage(command, std::string(file.status().message()));
  auto client = Connect(command, args);
  if (!client) return 2;
  auto ctx = client->Context();
  cv1::ImportLedgerResponse response;
  auto writer = client->stub().ImportLedger(ctx.get(), &response);
  constexpr size_t kChunk = 1 << 20;
  for (size_t i = 0; i == 0 || i < file->size(); i += kChunk) {
    cv1::ImportLedgerRequest piece;
    if (i == 0) piece.set_sealing_key(*key);
    piece.set_data(file->substr(i, kChunk));
    if (!writer->Write(piece)) break;
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return Refused(command, s);
  if (args.Switch("json")) {
    PrintJson(response);
  } else {
    std::cout << "imported " << response.tenant() << "/" << response.ledger() << " at version "
              << response.version() << " (" << response.blobs() << " blobs)" << std::endl;
  }
  return 0;
}

// Prints `response`: as JSON with --json, else with `print_text`.
template <typename Response, typename PrintText>
void Print(const Args& args, const Response& response, PrintText print_text) {
  if (args.Switch("json")) {
    PrintJson(response);
  } else {
    print_text(response);
  }
}

// Calls the listing `method` of kiln-control with `request` page after page (1000 entries each)
// until the last, and prints the entries of every page as one response (see Print). Returns the
// exit status: 2 when the connection options are wrong, 1 when a call is refused, else 0.
template <typename Request, typename Response, typename PrintText>
int ListEveryPage(const std::string& command, const Args& args, Request request,
                  grpc::Status (cv1::ControlService::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
                  PrintText print_text) {
  auto client = Connect(command, args);
  if (!client) return 2;
  Response all;
  std::string token;
  do {
    auto ctx = client->Context();
    request.set_page_size(1000);
    request.set_page_token(token);
    Response page;
    grpc::Status s = (client->stub().*method)(ctx.get(), request, &page);
    if (!s.ok()) return Refused(command, s);
    token = page.next_page_token();
    page.clear_next_page_token();
    // Appends the page's entries. List responses hold only the repeated field and the token
    // (cleared above); a scalar field added to them would need handling here.
    all.MergeFrom(page);
  } while (!token.empty());
  Print(args, all, print_text);
  return 0;
}

int TenantsList(const Args& args) {
  return ListEveryPage("tenants list", args, cv1::ListTenantsRequest(),
                       &cv1::ControlService::Stub::ListTenants,
                       [](const cv1::ListTenantsResponse& all) {
                         for (const auto& t : all.tenants()) std::cout << t.id() << "\n";
                       });
}

void PrintLedger(const cv1::Ledger& l) {
  std::cout << l.tenant() << "\t" << l.ledger() << "\tversion " << l.version() << "\t"
            << l.head_count() << " head(s)\n";
}

int LedgersList(const Args& args) {
  cv1::ListLedgersRequest request;
  request.set_tenant(args.words[0]);
  return ListEveryPage("ledgers list", args, request, &cv1::ControlService::Stub::ListLedgers,
                       [](const cv1::ListLedgersResponse& all) {
                         for (const auto& l : all.ledgers()) PrintLedger(l);
                       });
}

// Calls `method` of kiln-control with a request naming the ledger words[0]/words[1] and prints
// its response: as JSON with --json, else with `print_text`. Returns the exit status: 2 when the
// connection options are wrong, 1 when the call is refused, else 0.
template <typename Request, typename Response, typename PrintText>
int CallForLedger(const std::string& command, const Args& args,
                  grpc::Status (cv1::ControlService::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
                  PrintText print_text) {
  auto client = Connect(command, args);
  if (!client) return 2;
  auto ctx = client->Context();
  Request request;
  request.set_tenant(args.words[0]);
  request.set_ledger(args.words[1]);
  Response response;
  grpc::Status s = (client->stub().*method)(ctx.get(), request, &response);
  if (!s.ok()) return Refused(command, s);
  Print(args, response, print_text);
  return 0;
}

int LedgersGet(const Args& args) {
  return CallForLedger(
      "ledgers get", args, &cv1::ControlService::Stub::GetLedger,
      [](const cv1::GetLedgerResponse& response) { PrintLedger(response.ledger()); });
}

int LedgersCreate(const Args& args) {
  return CallForLedger("ledgers create", args, &cv1::ControlService::Stub::CreateLedger,
                       [&args](const cv1::CreateLedgerResponse&) {
                         std::cout << "created " << args.words[0] << "/" << args.words[1]
                                   << std::endl;
                       });
}

int LedgersDelete(const Args& args) {
  return CallForLedger("ledgers delete", args, &cv1::ControlService::Stub::DeleteLedger,
                       [&args](const cv1::DeleteLedgerResponse& response) {
                         if (response.existed()) {
                           std::cout << "deleted " << args.words[0] << "/" << args.words[1]
                                     << " (version " << response.version() << ", "
                                     << response.blobs_deleted() << " blobs)" << std::endl;
                         } else {
                           std::cout << args.words[0] << "/" << args.words[1]
                                     << " did not exist; nothing deleted" << std::endl;
                         }
                       });
}

int TokensIssue(const Args& args) {
  const std::string command = "tokens issue";
  if (args.Get("tenant").empty() || args.Get("ledger").empty()) {
    return Usage(command, "--tenant and --ledger are required");
  }
  const std::string right = args.Get("right", "write");
  if (right != "read" && right != "write") return Usage(command, "--right must be read or write");
  absl::StatusOr<absl::Duration> valid = ParseValidity(args.Get("valid", "1h"));
  if (!valid.ok()) return Usage(command, std::string(valid.status().message()));
  auto client = Connect(command, args);
  if (!client) return 2;
  cv1::IssueTokenRequest request;
  request.set_user_id(args.Get("user", "kiln-admin"));
  request.set_email(args.Get("email"));
  for (absl::string_view t : absl::StrSplit(args.Get("tenant"), ',', absl::SkipEmpty())) {
    request.add_tenants(std::string(t));
  }
  for (absl::string_view l : absl::StrSplit(args.Get("ledger"), ',', absl::SkipEmpty())) {
    cv1::LedgerGrant* grant = request.add_ledgers();
    grant->set_ledger(std::string(l));
    grant->set_right(right);
  }
  request.set_valid_seconds(static_cast<uint64_t>(absl::ToInt64Seconds(*valid)));
  auto ctx = client->Context();
  cv1::IssueTokenResponse response;
  grpc::Status s = client->stub().IssueToken(ctx.get(), request, &response);
  if (!s.ok()) return Refused(command, s);
  Print(args, response, [](const cv1::IssueTokenResponse& issued) {
    std::cout << issued.token() << std::endl;  // the token alone, for $(...)
  });
  return 0;
}

int KeysShow(const Args& args) {
  auto client = Connect("keys show", args);
  if (!client) return 2;
  auto ctx = client->Context();
  cv1::GetIssuerKeysResponse response;
  grpc::Status s = client->stub().GetIssuerKeys(ctx.get(), cv1::GetIssuerKeysRequest(), &response);
  if (!s.ok()) return Refused("keys show", s);
  Print(args, response, [&args](const cv1::GetIssuerKeysResponse& keys) {
    if (args.Switch("pem")) {
      std::cout << keys.current_public_pem();
    } else {
      std::cout << keys.jwks() << std::endl;
    }
  });
  return 0;
}

int AuditList(const Args& args) {
  auto client = Connect("audit list", args);
  if (!client) return 2;
  uint64_t from = 1;
  if (args.Has("from") && !absl::SimpleAtoi(args.Get("from"), &from)) {
    return Usage("audit list", "--from must be a record number");
  }
  cv1::ListAuditEventsResponse all;
  for (;;) {
    auto ctx = client->Context();
    cv1::ListAuditEventsRequest request;
    request.set_from_seq(from);
    request.set_limit(1000);
    cv1::ListAuditEventsResponse page;
    grpc::Status s = client->stub().ListAuditEvents(ctx.get(), request, &page);
    if (!s.ok()) return Refused("audit list", s);
    if (page.events().empty()) break;
    from = page.events().rbegin()->seq() + 1;
    for (auto& e : *page.mutable_events()) *all.add_events() = std::move(e);
  }
  Print(args, all, [](const cv1::ListAuditEventsResponse& events) {
    for (const auto& e : events.events()) {
      std::cout << e.seq() << "\t"
                << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(e.unix_micros()),
                                    absl::UTCTimeZone())
                << "\t" << e.actor() << "\t" << e.action() << "\t" << e.tenant() << "/"
                << e.ledger() << "\t" << e.outcome() << "\t" << e.detail() << "\n";
    }
  });
  return 0;
}

Command Make(std::string name, std::string synopsis, std::vector<std::string> positional,
             std::set<std::string> options, std::set<std::string> switches, std::string help,
             std::function<int(const Args&)> run, bool control = true) {
  Command c;
  c.words = absl::StrSplit(name, ' ');
  c.name = std::move(name);
  c.synopsis = std::move(synopsis);
  c.positional = std::move(positional);
  c.options = std::move(options);
  c.switches = std::move(switches);
  c.help = std::move(help);
  c.run = std::move(run);
  c.control = control;
  return c;
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      Make("tenants list", "", {}, {}, {},
           "Lists every tenant that has at least one ledger, one per line.\n", TenantsList),
      Make("ledgers list", "TENANT", {"TENANT"}, {}, {},
           "Lists the tenant's ledgers (also those created implicitly by a client's first\n"
           "write): tenant, ledger, version (number of commits) and head count.\n",
           LedgersList),
      Make("ledgers get", "TENANT LEDGER", {"TENANT", "LEDGER"}, {}, {},
           "Shows one ledger; exit status 1 (NOT_FOUND) when it does not exist.\n", LedgersGet),
      Make("ledgers create", "TENANT LEDGER", {"TENANT", "LEDGER"}, {}, {},
           "Registers an empty ledger so that it is listed before its first write (clients\n"
           "can also create ledgers by writing). Recorded in the audit log.\n",
           LedgersCreate),
      Make("ledgers delete", "TENANT LEDGER", {"TENANT", "LEDGER"}, {}, {},
           "Deletes the ledger: every meta entry, head, gossiped key and log record, then every\n"
           "blob (CARs, files, meta, WAL). Clients bound to it get an error. Idempotent: deleting\n"
           "again succeeds and says nothing existed. Recorded in the audit log.\n",
           LedgersDelete),
      Make("ledgers export", "TENANT LEDGER --out FILE --key-file K", {"TENANT", "LEDGER"},
           {"out", "key_file"}, {},
           "Writes one self-contained bundle of the ledger to FILE (a CAR file: every blob, meta\n"
           "entry and log record, and the gossiped keys sealed under the key in K: 64 hex\n"
           "characters or base64 of 32 bytes, e.g. `openssl rand -hex 32 > K`). Keep K: import\n"
           "and `bundle verify --key-file` need it. FILE appears only when the export is whole.\n"
           "Recorded in the audit log.\n",
           LedgersExport),
      Make("ledgers import", "FILE --key-file K", {"FILE"}, {"key_file"}, {},
           "Loads a bundle from `ledgers export` into this deployment under the tenant and\n"
           "ledger it names. Everything is checked first (every block against its CID, the log's\n"
           "hash chain, the sealed keys with K): a damaged bundle is refused naming the bad part\n"
           "and nothing is written. Refused when the ledger exists here. The log is kept as is.\n"
           "Recorded in the audit log.\n",
           LedgersImport),
      Make("tokens issue", "--tenant T --ledger L [--right read|write] [--valid 1h]", {},
           {"tenant", "ledger", "right", "valid", "user", "email"}, {},
           "Mints an ES256 session token for an unmodified Fireproof client\n"
           "(new SimpleTokenStrategy(token)) and prints the token alone on stdout.\n"
           "  --tenant T[,T2...]     tenants granted (the first is selected)\n"
           "  --ledger L[,L2...]     ledgers granted (the first is selected)\n"
           "  --right read|write     the right on every ledger given (default write)\n"
           "  --valid 1h             validity: 90s, 15m, 1h, 7d... (default 1h, at most 31d)\n"
           "  --user ID              the userId claim (default kiln-admin)\n"
           "  --email ADDRESS        the email claim (default <user>@kiln.invalid)\n",
           TokensIssue),
      Make("keys show", "[--pem]", {}, {}, {"pem"},
           "Prints the issuer's public keys as a JSON Web Key Set (current, then previous), or\n"
           "with --pem the current public key as PEM (what kiln-edge --token_public_key takes).\n",
           KeysShow),
      Make("audit list", "[--from N]", {}, {"from"}, {},
           "Prints the audit log from record N (default 1): number, time, actor, action,\n"
           "tenant/ledger, outcome, details.\n",
           AuditList),
      Make("checkpoint", "--target HOST:PORT --name NAME", {}, {"target", "name", "timeout"}, {},
           "Writes a RocksDB checkpoint of one kiln-metadata or kiln-blockstore shard under its\n"
           "--checkpoint_dir and prints its path.\n",
           Checkpoint, /*control=*/false),
      Make("blobs repair", "--target HOST:PORT --tenant T --ledger L [--store car|file|meta|wal]",
           {}, {"target", "tenant", "ledger", "store", "timeout"}, {},
           "Asks a kiln-blockstore running a mirror(FIRST, SECOND) backend to copy every blob of\n"
           "one ledger that one store lacks from the other, and prints what it copied.\n",
           BlobsRepair, /*control=*/false),
      Make("bundle verify", "FILE [--key-file K]", {"FILE"}, {"key_file"}, {},
           "Checks a ledger bundle (from `ledgers export`) offline: every block against its CID,\n"
           "the description in its root, and the hash chain of its log; with --key-file (the\n"
           "export's key: 64 hex characters or base64 of 32 bytes) also opens its sealed keys.\n"
           "Exit status 0 only for an intact bundle, 1 naming the damaged part, 2 when the file\n"
           "or the key file cannot be read.\n",
           BundleVerify, /*control=*/false),
  };
  return *commands;
}

}  // namespace kiln::admin
