#include "tests/support/s3rver.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/test_support.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "."
#endif

namespace kiln::testing {
namespace {

std::string S3rverDir() {
  const char* dir = std::getenv("KILN_S3RVER_DIR");
  return dir != nullptr ? dir : std::string(KILN_SOURCE_DIR) + "/tests/support/s3rver";
}

}  // namespace

S3rver::S3rver(std::string script, std::string bucket)
    : script_(std::move(script)), bucket_(std::move(bucket)) {}

S3rver::~S3rver() { Kill(); }

absl::StatusOr<std::unique_ptr<S3rver>> S3rver::Start(const std::string& bucket) {
  std::string script = S3rverDir() + "/node_modules/s3rver/bin/s3rver.js";
  if (!std::filesystem::exists(script)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "s3rver is not installed (no ", script,
        "): run `npm ci` in tests/support/s3rver (tools/dev test does) or set KILN_S3RVER_DIR"));
  }
  std::unique_ptr<S3rver> server(new S3rver(script, bucket));
  absl::Status s = server->Launch(0);
  if (!s.ok()) return s;
  return server;
}

absl::Status S3rver::Launch(int port) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe failed");
  // s3rver makes ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 offers
  // only through the legacy provider.
  std::vector<std::string> argv = {
      "node",   "--openssl-legacy-provider", script_,       "--address", "127.0.0.1",
      "--port", absl::StrCat(port),          "--directory", dir_.path(), "--configure-bucket",
      bucket_};
  if (std::getenv("KILN_S3RVER_LOG") == nullptr) argv.push_back("--silent");
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test that crashed
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    ExecChild(std::move(argv));
  }
  close(fds[1]);
  out_fd_ = fds[0];
  // Read its output until it names its port (poll bounds the wait; nothing sleeps).
  std::string out;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  const std::string marker = "S3rver listening on 127.0.0.1:";
  while (true) {
    size_t at = out.find(marker);
    size_t eol = at == std::string::npos ? at : out.find('\n', at);
    if (eol != std::string::npos) {
      if (!absl::SimpleAtoi(out.substr(at + marker.size(), eol - at - marker.size()), &port_)) {
        return absl::InternalError("s3rver printed an unreadable port: " + out);
      }
      break;
    }
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return absl::DeadlineExceededError("s3rver did not start: " + out);
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) return absl::InternalError("s3rver exited during startup: " + out);
    out.append(buf, static_cast<size_t>(n));
  }
  // Keep draining its output so it never blocks on a full pipe.
  // With $KILN_S3RVER_LOG set (and --silent dropped), its request log is appended there.
  const char* log_path = std::getenv("KILN_S3RVER_LOG");
  drain_ = std::thread([fd = out_fd_, log = std::string(log_path != nullptr ? log_path : "")] {
    FILE* f = log.empty() ? nullptr : fopen(log.c_str(), "a");
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      if (f != nullptr) fwrite(buf, 1, static_cast<size_t>(n), f);
    }
    if (f != nullptr) fclose(f);
    close(fd);
  });
  return absl::OkStatus();
}

void S3rver::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
}

void S3rver::Freeze() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void S3rver::Thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

absl::Status S3rver::Restart() {
  Kill();
  return Launch(port_);
}

std::string S3rver::endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::string S3rver::BackendUrl(const std::string& prefix, const std::string& extra) const {
  return absl::StrCat("s3://", bucket_, "/", prefix, "?endpoint=", endpoint(),
                      "&region=us-east-1&path_style=true", extra);
}

void S3rver::SetCredentialsInEnvironment() {
  setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
}

}  // namespace kiln::testing
