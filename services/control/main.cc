// kiln-control: the privileged control plane (tenants, ledgers, audit log, session tokens). The
// only place that reads flags.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/jwt_issuer.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/tls_credentials.h"
#include "glog/logging.h"
#include "services/control/admin_auth.h"
#include "services/control/audit_log.h"
#include "services/control/control_service.h"
#include "services/control/ledger_admin.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7105",
          "Address the control API listens on. Privileged: never expose it to clients.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9105",
          "Address of the Prometheus /metrics endpoint; empty disables it.");
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
ABSL_FLAG(std::string, ready_file, "",
          "When set, the chosen ports are written here once the server is serving.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight RPCs may run after SIGTERM before they are cancelled.");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "kiln-control: " << message << std::endl;
  std::exit(2);
}

std::string ReadFileOrDie(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) Die(std::string("cannot read ") + what + " file " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  kiln::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "Kiln control plane: tenants, ledgers, audit log, session tokens.\n"
      "  kiln-control --admin_token_file=admin-token --issuer_key_file=issuer-key.pem");
  absl::ParseCommandLine(argc, argv);
  kiln::InitLogging(argv[0]);

  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  const std::string client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  if (token_file.empty() && client_ca_file.empty()) {
    Die("--admin_token_file or --tls_client_ca_file is required (the control API is privileged)");
  }
  auto auth = kiln::control::AdminAuth::Create(
      token_file.empty() ? "" : ReadFileOrDie(token_file, "admin token"),
      {.client_certificates = !client_ca_file.empty()});
  if (!auth.ok()) Die("--admin_token_file: " + std::string(auth.status().message()));
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null: plaintext
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
  if (cert_file.empty() != key_file.empty()) Die("give both --tls_cert_file and --tls_key_file");
  if (cert_file.empty() && !client_ca_file.empty())
    Die("--tls_client_ca_file needs --tls_cert_file");
  if (!cert_file.empty()) {
    auto tls = kiln::TlsServerCredentials(
        {.cert_chain = ReadFileOrDie(cert_file, "TLS certificate"),
         .private_key = ReadFileOrDie(key_file, "TLS key"),
         .client_ca = client_ca_file.empty() ? "" : ReadFileOrDie(client_ca_file, "client CA")});
    if (!tls.ok()) Die("--tls_*_file: " + std::string(tls.status().message()));
    credentials = *std::move(tls);
  }

  std::unique_ptr<kiln::TokenIssuer> issuer;
  if (const std::string f = absl::GetFlag(FLAGS_issuer_key_file); !f.empty()) {
    auto created = kiln::TokenIssuer::Create(ReadFileOrDie(f, "issuer key"));
    if (!created.ok()) Die("--issuer_key_file: " + std::string(created.status().message()));
    issuer = std::make_unique<kiln::TokenIssuer>(*std::move(created));
  }
  std::string previous_jwk;
  if (const std::string f = absl::GetFlag(FLAGS_previous_issuer_key_file); !f.empty()) {
    auto previous = kiln::TokenIssuer::Create(ReadFileOrDie(f, "previous issuer key"));
    if (!previous.ok()) {
      Die("--previous_issuer_key_file: " + std::string(previous.status().message()));
    }
    previous_jwk = previous->public_jwk();
  }
  auto metadata =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "metadata_target");
  if (!metadata.ok()) Die(std::string(metadata.status().message()));
  auto blockstore =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target");
  if (!blockstore.ok()) Die(std::string(blockstore.status().message()));
  auto audit = kiln::control::AuditLog::Open(absl::GetFlag(FLAGS_audit_log));
  if (!audit.ok()) Die("--audit_log: " + std::string(audit.status().message()));

  kiln::Metrics metrics;
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    absl::Status s = metrics.Serve(metrics_address);
    if (!s.ok()) Die(std::string(s.message()));
  }
  kiln::BoundedExecutor executor({.threads = 4, .max_queued = 256});
  kiln::control::LedgerAdmin ledgers(*metadata, *blockstore, absl::GetFlag(FLAGS_peer_deadline));
  kiln::control::LedgerExporter exporter(*metadata, *blockstore,
                                         absl::GetFlag(FLAGS_peer_deadline));
  kiln::control::ControlServiceImpl service(kiln::control::ControlServiceOptions{}, *auth, ledgers,
                                            exporter, **audit, issuer.get(), previous_jwk,
                                            kiln::RealClock::Get(), executor, metrics.registry());
  kiln::ServerOptions server_options;
  server_options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.credentials = credentials;
  auto server = kiln::GrpcServer::Start(server_options, {&service}, metrics);
  if (!server.ok()) Die(std::string(server.status().message()));
  LOG(INFO) << "kiln-control serving gRPC on port " << (*server)->port() << ", metrics on port "
            << metrics.port() << (issuer ? ", issuer key " + issuer->kid() : ", no issuer key");
  const std::string ready_file = absl::GetFlag(FLAGS_ready_file);
  if (!ready_file.empty()) {
    absl::Status s = kiln::WriteReadyFile(
        ready_file, {{"grpc_port", (*server)->port()}, {"metrics_port", metrics.port()}});
    if (!s.ok()) Die(std::string(s.message()));
  }
  int sig = kiln::WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": draining in-flight RPCs";
  (*server)->Shutdown();
  executor.Shutdown();
  LOG(INFO) << "kiln-control stopped";
  return 0;
}
