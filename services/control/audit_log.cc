#include "services/control/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace kiln::control {

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  std::vector<v1::AuditEvent> events;
  if (path.empty()) return std::unique_ptr<AuditLog>(new AuditLog(-1, std::move(events)));
  {
    std::ifstream in(path);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      v1::AuditEvent event;
      if (!google::protobuf::util::JsonStringToMessage(line, &event).ok() ||
          event.seq() != events.size() + 1) {
        return absl::DataLossError(
            absl::StrCat("audit log line ", n,
                         " is not the next audit record; the file was "
                         "changed by hand or damaged (move it aside to start a new one)"));
      }
      events.push_back(std::move(event));
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open the audit log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(fd, std::move(events)));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<uint64_t> AuditLog::Append(v1::AuditEvent event) {
  absl::MutexLock lock(&mu_);
  event.set_seq(events_.size() + 1);
  if (fd_ >= 0) {
    std::string line;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(event, &line, options).ok()) {
      return absl::InternalError("cannot encode an audit record");
    }
    line.push_back('\n');
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fdatasync(fd_) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot write the audit log: ", std::strerror(errno)));
    }
  }
  events_.push_back(std::move(event));
  return events_.size();
}

std::vector<v1::AuditEvent> AuditLog::Read(uint64_t from_seq, size_t limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::AuditEvent> out;
  for (uint64_t i = from_seq == 0 ? 0 : from_seq - 1; i < events_.size() && out.size() < limit;
       ++i) {
    out.push_back(events_[i]);
  }
  return out;
}

}  // namespace kiln::control
