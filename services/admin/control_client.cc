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
  std::string token_file = args.Get("admin_token_file");
  if (token_file.empty() && !dir.empty()) token_file = dir + "/admin-token";
  if (token_file.empty()) {
    return absl::FailedPreconditionError(
        "give the admin credential: --admin_token_file FILE (or --data-dir DIR)");
  }
  absl::StatusOr<std::string> token = ReadFile(token_file);
  if (!token.ok()) return token.status();
  absl::Duration timeout = absl::Seconds(60);
  if (args.Has("timeout") && !absl::ParseDuration(args.Get("timeout"), &timeout)) {
    return absl::InvalidArgumentError("--timeout must be a duration such as 30s or 5m");
  }
  return ControlClient(control::v1::ControlService::NewStub(NewPeerChannel(target)),
                       std::string(absl::StripAsciiWhitespace(*token)), timeout);
}

std::unique_ptr<grpc::ClientContext> ControlClient::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  ctx->AddMetadata("authorization", "Bearer " + token_);
  ctx->AddMetadata("x-kiln-actor", Actor());
  return ctx;
}

}  // namespace kiln::admin
