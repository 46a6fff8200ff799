#include "tests/support/postgres_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/test_support.h"

namespace kiln::testing {
namespace {

std::string FindBinDir() {
  for (const char* v : {"17", "16", "15"}) {
    std::string dir = absl::StrCat("/usr/lib/postgresql/", v, "/bin");
    if (access((dir + "/initdb").c_str(), X_OK) == 0) return dir;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    return absl::UnavailableError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (tools/dev installs "
        "the postgresql package)");
  }
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/kiln-pg-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  s->dir_ = tmpl;
  s->as_nobody_ = geteuid() == 0;
  if (s->as_nobody_) {
    struct passwd* pw = getpwnam("nobody");
    if (pw == nullptr) return absl::InternalError("no user nobody to run PostgreSQL as");
    if (chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("cannot chown the PostgreSQL test directory to nobody");
    }
  }

  // The watchdog: a shell that blocks reading a pipe whose only write end this process holds
  // (close-on-exec, so service children do not keep it open); at end of file it stops the server
  // and removes the directory.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::string as = s->as_nobody_ ? "runuser -u nobody -- " : "";
  std::string script =
      absl::StrCat("read unused; ", as, s->bin_, "/pg_ctl -D '", s->dir_,
                   "/data' -m immediate -w stop >/dev/null 2>&1; rm -rf '", s->dir_, "'");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(fds[0], 0);
    setsid();  // not killed with the test's process group by ctest's timeout handling
    execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  s->watchdog_fd_ = fds[1];
  s->watchdog_ = pid;

  absl::Status st = s->CopyTemplate();
  if (!st.ok()) return st;
  st = s->PgCtlStart();
  if (!st.ok()) return st;
  return s;
}

PostgresServer& PostgresServer::Shared() {
  static PostgresServer* shared = [] {
    absl::StatusOr<std::unique_ptr<PostgresServer>> s = Start();
    if (!s.ok()) {
      fprintf(stderr, "cannot start the test PostgreSQL server: %s\n",
              std::string(s.status().message()).c_str());
      std::abort();
    }
    PostgresServer* p = s->release();
    std::atexit([] { delete shared; });
    return p;
  }();
  return *shared;
}

PostgresServer::~PostgresServer() {
  if (watchdog_fd_ >= 0) close(watchdog_fd_);
  if (watchdog_ > 0) {
    int status = 0;
    waitpid(watchdog_, &status, 0);
  }
}

absl::Status PostgresServer::Run(const std::string& step, const std::vector<std::string>& argv) {
  std::vector<std::string> full;
  if (as_nobody_) full = {"/usr/sbin/runuser", "-u", "nobody", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::string log = absl::StrCat(dir_, "/", step, ".log");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    ExecChild(std::move(full));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("PostgreSQL test server: ", step, " failed (",
                                            absl::StrJoin(argv, " "), "); see ", log));
  }
  return absl::OkStatus();
}

std::string PostgresServer::TemplateDir() const {
  const char* base = std::getenv("TMPDIR");
  std::string version = bin_.substr(0, bin_.rfind('/'));
  version = version.substr(version.rfind('/') + 1);
  return absl::StrCat(base != nullptr ? base : "/tmp", "/kiln-pg-template-", version, "-",
                      geteuid());
}

absl::Status PostgresServer::CopyTemplate() {
  const std::string tmpl = TemplateDir();
  if (access((tmpl + "/PG_VERSION").c_str(), F_OK) != 0) {
    // initdb once per machine into a fresh directory, then rename it into place: the rename is
    // atomic, so concurrent test processes see either no template or a whole one.
    std::string building = tmpl + ".tmp-XXXXXX";
    if (mkdtemp(building.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    if (as_nobody_) {
      struct passwd* pw = getpwnam("nobody");
      if (pw == nullptr || chown(building.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::InternalError("cannot chown the PostgreSQL template directory to nobody");
      }
    }
    absl::Status st = Run("initdb", {bin_ + "/initdb", "-D", building, "-A", "trust", "-U", "kiln",
                                     "-E", "UTF8", "--no-sync", "--no-instructions"});
    if (!st.ok()) return st;
    if (rename(building.c_str(), tmpl.c_str()) != 0) {
      std::error_code ec;
      std::filesystem::remove_all(building, ec);  // another process was first
    }
  }
  return Run("copy", {"/bin/cp", "-a", tmpl, dir_ + "/data"});
}

absl::Status PostgresServer::PgCtlStart() {
  return Run(
      "pg_ctl",
      {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-o",
       absl::StrCat("-k ", dir_, " -c listen_addresses= -c fsync=off -c max_connections=200"),
       "start"});
}

absl::Status PostgresServer::Stop(const std::string& mode) {
  return Run("pg_ctl", {bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", mode, "-w", "stop"});
}

absl::Status PostgresServer::Restart() { return PgCtlStart(); }

std::string PostgresServer::Url(const std::string& database, const std::string& params) const {
  return absl::StrCat("postgres://kiln@/", database, "?host=", dir_, params.empty() ? "" : "&",
                      params);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  std::string name = absl::StrCat("kiln_test_", ++databases_);
  std::string conninfo = absl::StrCat("host=", dir_, " user=kiln dbname=postgres");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  absl::Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = absl::UnavailableError(PQerrorMessage(conn));
  } else {
    PGresult* r = PQexec(conn, absl::StrCat("CREATE DATABASE ", name).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      status = absl::InternalError(PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  PQfinish(conn);
  if (!status.ok()) return status;
  return name;
}

}  // namespace kiln::testing
