// Shared by the fuzz targets in tests/fuzz: the libFuzzer entry points every target defines, and
// FUZZ_CHECK, which aborts (a finding, for libFuzzer and for the replay driver alike) when a
// property that must hold for every input does not, such as "an accepted encoding re-encodes to
// the same bytes".
//
// Each target is built twice: with clang and -fsanitize=fuzzer into build-fuzz/ (tools/fuzz), and
// with the project's compiler and replay_main.cc into the normal and ASan builds, where ctest feeds
// it every committed corpus file and past crash. Targets keep no state between inputs beyond what
// LLVMFuzzerInitialize builds, so a replay reproduces a finding. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional one-time setup; replay_main.cc calls it too when a target defines it.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace kiln::fuzz {

// The input as text (bytes, not necessarily UTF-8).
inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Splits a selector byte off the front of the input: targets with several entry points pick one
// with it, so one corpus covers them all. Returns 0 for an empty input.
inline uint8_t TakeSelector(absl::string_view* input) {
  if (input->empty()) return 0;
  const uint8_t selector = static_cast<uint8_t>(input->front());
  input->remove_prefix(1);
  return selector;
}

}  // namespace kiln::fuzz
