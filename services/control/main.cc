// kiln-control: the privileged control plane (tenants, ledgers, audit log, session tokens). The
// only place that reads flags.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/jwt_issuer.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/tls_credentials.h"
#include "glog/logging.h"
#include "services/control/admin_auth.h"
#include "services/control/audit_log.h"
#include "services/control/control_service.h"
#include "services/control/ledger_admin.h"

KILN_DEFINE_SERVICE_FLAGS(
    "127.0.0.1:7105", "Address the control API listens on. Privileged: never expose it to clients.",
    "127.0.0.1:9105");
ABSL_FLAG(std::string, metadata_target, "127.0.0.1:7102",
          "gRPC targets of the metadata shards, comma-separated in shard order. Must equal "
          "kiln-edge's and kiln-merge's.");
ABSL_FLAG(std::string, blockstore_target, "127.0.0.1:7101",
          "gRPC targets of the block-store shards, comma-separated in shard order, as for "
          "--metadata_target.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the admin bearer token (e.g. `openssl rand -hex 32`); required unless "
          "--tls_client_ca_file is given.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain (with --tls_key_file): serve the control API over TLS.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA certificate(s): mutual TLS. Every client must present a certificate signed by "
          "it (the handshake refuses others), which is then an admin credential. Needs "
          "--tls_cert_file.");
ABSL_FLAG(std::string, issuer_key_file, "",
          "PEM EC P-256 private key that signs session tokens (IssueToken); empty disables "
          "IssueToken. Give kiln-edge its public half (GetIssuerKeys, or `openssl ec -pubout`).");
ABSL_FLAG(std::string, previous_issuer_key_file, "",
          "During rotation: the previous issuer key (PEM private key); its public half is still "
          "published by GetIssuerKeys.");
ABSL_FLAG(std::string, audit_log, "",
          "Append-only audit log file (JSON lines); empty keeps it in memory only (lost on exit).");
ABSL_FLAG(absl::Duration, peer_deadline, absl::Seconds(30), "Deadline of each call to a shard.");

// The --help text.
constexpr char kUsage[] =
    "Kiln control plane: tenants, ledgers, audit log, session tokens.\n"
    "  kiln-control --admin_token_file=admin-token --issuer_key_file=issuer-key.pem";

int main(int argc, char** argv) {
  kiln::StartServiceProcess(argc, argv, {.usage = kUsage, .tune_malloc = false});

  kiln::ServiceMain process(KILN_SERVICE_CONFIG_FROM_FLAGS("kiln-control"));
  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  const std::string client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
  auto read = [&process](const std::string& path, const char* what) {
    return process.ValueOrDie(kiln::ReadFlagFile(path, std::string(what) + " file"));
  };

  if (token_file.empty() && client_ca_file.empty()) {
    process.Die(
        "--admin_token_file or --tls_client_ca_file is required (the control API is privileged)");
  }
  kiln::control::AdminAuth auth = process.ValueOrDie(
      kiln::control::AdminAuth::Create(token_file.empty() ? "" : read(token_file, "admin token"),
                                       {.client_certificates = !client_ca_file.empty()}),
      "--admin_token_file");
  if (cert_file.empty() != key_file.empty()) {
    process.Die("give both --tls_cert_file and --tls_key_file");
  }
  if (cert_file.empty() && !client_ca_file.empty()) {
    process.Die("--tls_client_ca_file needs --tls_cert_file");
  }
  if (!cert_file.empty()) {
    process.grpc_options().credentials = process.ValueOrDie(
        kiln::TlsServerCredentials(
            {.cert_chain = read(cert_file, "TLS certificate"),
             .private_key = read(key_file, "TLS key"),
             .client_ca = client_ca_file.empty() ? "" : read(client_ca_file, "client CA")}),
        "--tls_*_file");
  }

  std::unique_ptr<kiln::TokenIssuer> issuer;
  if (const std::string f = absl::GetFlag(FLAGS_issuer_key_file); !f.empty()) {
    issuer = std::make_unique<kiln::TokenIssuer>(
        process.ValueOrDie(kiln::TokenIssuer::Create(read(f, "issuer key")), "--issuer_key_file"));
  }
  std::string previous_jwk;
  if (const std::string f = absl::GetFlag(FLAGS_previous_issuer_key_file); !f.empty()) {
    previous_jwk = process
                       .ValueOrDie(kiln::TokenIssuer::Create(read(f, "previous issuer key")),
                                   "--previous_issuer_key_file")
                       .public_jwk();
  }
  kiln::ShardedChannels metadata = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "metadata_target"));
  kiln::ShardedChannels blockstore = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target"));
  std::unique_ptr<kiln::control::AuditLog> audit = process.ValueOrDie(
      kiln::control::AuditLog::Open(absl::GetFlag(FLAGS_audit_log)), "--audit_log");

  process.ServeMetrics();
  kiln::BoundedExecutor executor({.threads = 4, .max_queued = 256});
  kiln::control::LedgerAdmin ledgers(metadata, blockstore, absl::GetFlag(FLAGS_peer_deadline));
  kiln::control::LedgerExporter exporter(metadata, blockstore, absl::GetFlag(FLAGS_peer_deadline));
  kiln::control::ControlServiceImpl service(
      kiln::control::ControlServiceOptions{}, auth, ledgers, exporter, *audit, issuer.get(),
      previous_jwk, kiln::RealClock::Get(), executor, process.metrics().registry());
  process.StartGrpc({&service}, issuer ? ", issuer key " + issuer->kid() : ", no issuer key");
  return process.RunUntilSignal({[&] { executor.Shutdown(); }});
}
