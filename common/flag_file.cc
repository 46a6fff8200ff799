#include "common/flag_file.h"

#include <cerrno>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kiln {

absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view what) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string message = absl::StrCat("cannot read ", what, " ", path);
    if (errno == ENOENT) return absl::NotFoundError(message);
    if (errno == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", what, " ", path));
  return text;
}

}  // namespace kiln
