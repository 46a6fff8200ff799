#include "services/admin/control_client.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/shards.h"
#include "common/tls_credentials.h"
#include "grpcpp/create_channel.h"

namespace kiln::admin {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The grpc_port line of a ready file written by `tools/dev up`.
absl::StatusOr<std::string> TargetFromReadyFile(const std::string& dir) {
  const std::string path = dir + "/control.ready";
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no kiln-control is running for ", dir, " (", path,
        " is missing): start it with `tools/dev up --data-dir ", dir, "`, or give --target"));
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "grpc_port=")) return absl::StrCat("127.0.0.1:", line);
  }
  return absl::FailedPreconditionError(absl::StrCat(path, " names no grpc_port"));
}

// TLS channel credentials from --tls_ca_file (the server's CA) and, for mutual TLS,
// --tls_cert_file and --tls_key_file; null when none is given (plaintext).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsFromArgs(const Args& args) {
  if (!args.Has("tls_ca_file") && !args.Has("tls_cert_file") && !args.Has("tls_key_file")) {
    return nullptr;
  }
  if (!args.Has("tls_ca_file")) {
    return absl::FailedPreconditionError(
        "TLS needs --tls_ca_file: the CA that signed kiln-control's certificate");
  }
  kiln::TlsClientPem pem;
  for (auto [option, field] :
       {std::pair{"tls_ca_file", &pem.server_ca}, std::pair{"tls_cert_file", &pem.cert_chain},
        std::pair{"tls_key_file", &pem.private_key}}) {
    if (!args.Has(option)) continue;
    absl::StatusOr<std::string> text = ReadFile(args.Get(option));
    if (!text.ok()) return text.status();
    *field = *std::move(text);
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      kiln::TlsChannelCredentials(pem);
  if (!creds.ok()) return absl::FailedPreconditionError(creds.status().message());
  return creds;
}

std::string Actor() {
  const char* user = std::getenv("USER");
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(user != nullptr && *user != '\0' ? user : "unknown", "@",
                      host[0] != '\0' ? host : "unknown", " (kiln-admin)");
}

}  // namespace

absl::StatusOr<ControlClient> ControlClient::FromArgs(const Args& args) {
  const std::string dir = args.Get("data_dir");
  std::string target = args.Get("target");
  if (target.empty() && !dir.empty()) {
    absl::StatusOr<std::string> t = TargetFromReadyFile(dir);
    if (!t.ok()) return t.status();
    target = *t;
  }
  if (target.empty()) {
    return absl::FailedPreconditionError(
        "say where kiln-control is: --target HOST:PORT (with --admin_token_file FILE), or "
        "--data-dir DIR for a local `tools/dev up --data-dir DIR`");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> tls = TlsFromArgs(args);
  if (!tls.ok()) return tls.status();
  // A client certificate is a credential of its own (kiln-control --tls_client_ca_file).
  const bool client_certificate = args.Has("tls_cert_file");
  std::string token_file = args.Get("admin_token_file");
  if (token_file.empty() && !dir.empty()) token_file = dir + "/admin-token";
  if (token_file.empty() && !client_certificate) {
    return absl::FailedPreconditionError(
        "give the admin credential: --admin_token_file FILE (or --data-dir DIR), or a client "
        "certificate (--tls_cert_file, --tls_key_file, --tls_ca_file)");
  }
  std::string token;
  if (!token_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(token_file);
    if (!text.ok()) return text.status();
    token = std::string(absl::StripAsciiWhitespace(*text));
  }
  absl::Duration timeout = absl::Seconds(60);
  if (args.Has("timeout") && !absl::ParseDuration(args.Get("timeout"), &timeout)) {
    return absl::InvalidArgumentError("--timeout must be a duration such as 30s or 5m");
  }
  std::shared_ptr<grpc::Channel> channel;
  if (*tls != nullptr) {
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(64 << 20);
    channel = grpc::CreateCustomChannel(target, *tls, channel_args);
  } else {
    channel = NewPeerChannel(target);
  }
  return ControlClient(control::v1::ControlService::NewStub(channel), std::move(token), timeout);
}

std::unique_ptr<grpc::ClientContext> ControlClient::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  ctx->AddMetadata("x-kiln-actor", Actor());
  return ctx;
}

}  // namespace kiln::admin
