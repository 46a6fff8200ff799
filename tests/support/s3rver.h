// A real S3-compatible server for tests: the npm package s3rver (pinned in
// tests/support/s3rver/package-lock.json; tools/dev runs `npm ci` there before the tests), run
// with Node on a loopback port chosen at run time over a temporary directory, with one bucket.
// s3rver accepts any SigV4 signature (it checks only that the access key is S3RVER), so it tests
// behaviour, not signing: tests/common/sigv4_test.cc proves the signatures against AWS's vectors.
//
// Found through $KILN_S3RVER_DIR (the folder holding node_modules/s3rver), else the source tree's
// tests/support/s3rver. Not thread-safe; use from the test thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tests/support/test_support.h"

namespace kiln::testing {

class S3rver {
 public:
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";

  // Starts s3rver with bucket `bucket`. FAILED_PRECONDITION with instructions when s3rver is not
  // installed; INTERNAL/DEADLINE_EXCEEDED when it does not come up.
  static absl::StatusOr<std::unique_ptr<S3rver>> Start(const std::string& bucket = "kiln");
  ~S3rver();  // SIGKILLs the server if it still runs

  // SIGKILLs the server (its data directory stays).
  void Kill();
  // Freezes / thaws the server (SIGSTOP / SIGCONT): connections hang without being refused.
  void Freeze();
  void Thaw();
  // Starts it again on the same port and directory.
  absl::Status Restart();

  int port() const { return port_; }
  std::string endpoint() const;
  const std::string& bucket() const { return bucket_; }
  // s3://bucket/prefix?endpoint=...&path_style=true&region=us-east-1 plus `extra` ("&a=b").
  std::string BackendUrl(const std::string& prefix, const std::string& extra = "") const;
  // Sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3rver in this process's environment.
  static void SetCredentialsInEnvironment();

 private:
  S3rver(std::string script, std::string bucket);
  absl::Status Launch(int port);

  const std::string script_;
  const std::string bucket_;
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  std::thread drain_;
};

}  // namespace kiln::testing
