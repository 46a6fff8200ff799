#include "services/blockstore/backend_spec.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/backend_url.h"
#include "common/status_macros.h"
#include "services/blockstore/backends.h"
#include "services/blockstore/cache_backend.h"
#include "services/blockstore/mirror_backend.h"

namespace kiln::blockstore {
namespace {

bool IsIdentifier(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) || c == '_' ||
           absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// Splits a wrapper's arguments into backend specs and name=value options.
struct Arguments {
  std::vector<std::string> backends;
  std::map<std::string, std::string> options;
};

absl::StatusOr<Arguments> SplitArguments(const WrapperCall& call) {
  Arguments out;
  for (const std::string& arg : call.args) {
    size_t eq = arg.find('=');
    if (eq != std::string::npos && IsIdentifier(arg.substr(0, eq))) {
      out.options[arg.substr(0, eq)] = arg.substr(eq + 1);
      continue;
    }
    if (!out.options.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(call.name, "(...): backend \"", arg, "\" after an option; options last"));
    }
    out.backends.push_back(arg);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<BlockBackend>> OpenArgument(const WrapperCall& call, size_t i,
                                                           const std::string& spec) {
  absl::StatusOr<std::unique_ptr<BlockBackend>> backend = CreateBlockBackend(spec);
  if (!backend.ok()) {
    return absl::Status(backend.status().code(),
                        absl::StrCat("in argument ", i + 1, " of ", call.name,
                                     "(...): ", backend.status().message()));
  }
  return backend;
}

absl::StatusOr<std::unique_ptr<BlockBackend>> MakeCache(const WrapperCall& call) {
  KILN_ASSIGN_OR_RETURN(Arguments args, SplitArguments(call));
  if (args.backends.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cache(FRONT, BACK[, max_bytes=N][, max_blob_bytes=M]) takes two backends; got ",
        args.backends.size()));
  }
  CacheBlockBackendOptions options;
  for (const auto& [name, value] : args.options) {
    uint64_t* field = name == "max_bytes"        ? &options.max_bytes
                      : name == "max_blob_bytes" ? &options.max_blob_bytes
                                                 : nullptr;
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cache(...): unknown option \"", name, "\"; known options: max_bytes, max_blob_bytes"));
    }
    if (!absl::SimpleAtoi(value, field) || *field == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cache(...): ", name, "=", value, " is not a positive number of bytes"));
    }
  }
  const std::string& front_spec = args.backends[0];
  if (!absl::StartsWith(front_spec, "memory:") && !absl::StartsWith(front_spec, "rocksdb:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache(...): the front store must be memory:// or rocksdb://...; got \"",
                     front_spec, "\""));
  }
  KILN_ASSIGN_OR_RETURN(auto front, OpenArgument(call, 0, front_spec));
  KILN_ASSIGN_OR_RETURN(auto back, OpenArgument(call, 1, args.backends[1]));
  return std::unique_ptr<BlockBackend>(
      new CacheBlockBackend(std::move(front), std::move(back), options));
}

absl::StatusOr<std::unique_ptr<BlockBackend>> MakeMirror(const WrapperCall& call) {
  KILN_ASSIGN_OR_RETURN(Arguments args, SplitArguments(call));
  if (args.backends.size() != 2 || !args.options.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("mirror(FIRST, SECOND) takes exactly two backends and no options; got ",
                     args.backends.size(), " backends and ", args.options.size(), " options"));
  }
  KILN_ASSIGN_OR_RETURN(auto first, OpenArgument(call, 0, args.backends[0]));
  KILN_ASSIGN_OR_RETURN(auto second, OpenArgument(call, 1, args.backends[1]));
  return std::unique_ptr<BlockBackend>(new MirrorBlockBackend(std::move(first), std::move(second)));
}

}  // namespace

absl::StatusOr<WrapperCall> ParseWrapperCall(absl::string_view spec) {
  spec = absl::StripAsciiWhitespace(spec);
  size_t open = spec.find('(');
  if (open == absl::string_view::npos || !IsIdentifier(spec.substr(0, open))) {
    return absl::NotFoundError("not a wrapper call");
  }
  if (spec.back() != ')') {
    return absl::InvalidArgumentError(
        absl::StrCat("backend spec \"", spec, "\" opens \"(\" but does not end with \")\""));
  }
  WrapperCall call;
  call.name = std::string(spec.substr(0, open));
  absl::string_view body = spec.substr(open + 1, spec.size() - open - 2);
  int depth = 0;
  size_t start = 0;
  auto take = [&](size_t end) -> absl::Status {
    absl::string_view arg = absl::StripAsciiWhitespace(body.substr(start, end - start));
    if (arg.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend spec ", call.name, "(...) has an empty argument"));
    }
    call.args.emplace_back(arg);
    start = end + 1;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '(') ++depth;
    if (body[i] == ')' && --depth < 0) break;
    if (body[i] == ',' && depth == 0) KILN_RETURN_IF_ERROR(take(i));
  }
  if (depth != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend spec \"", spec, "\" has unbalanced parentheses"));
  }
  KILN_RETURN_IF_ERROR(take(body.size()));
  return call;
}

absl::StatusOr<std::unique_ptr<BlockBackend>> CreateBlockBackend(absl::string_view spec) {
  absl::StatusOr<WrapperCall> call = ParseWrapperCall(spec);
  if (call.status().code() == absl::StatusCode::kNotFound) {
    return BlockBackendRegistry().Create(absl::StripAsciiWhitespace(spec));
  }
  if (!call.ok()) return call.status();
  if (call->name == "cache") return MakeCache(*call);
  if (call->name == "mirror") return MakeMirror(*call);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown backend wrapper \"", call->name,
      "(...)\"; known wrappers: cache(FRONT, BACK[, max_bytes=N][, max_blob_bytes=M]), "
      "mirror(FIRST, SECOND); known schemes: ",
      BlockBackendRegistry().KnownSchemes()));
}

}  // namespace kiln::blockstore
