// Random-mutation helpers for the in-test fuzz loops (tests/common/dag_cbor_test.cc,
// tests/common/jwt_test.cc): a seed that can be replayed and one mutation step. Header-only; each
// test owns its generator, so nothing here is shared between threads.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/numbers.h"

namespace kiln::testing {

// The seed of a fuzz loop: $KILN_FUZZ_SEED when set (to rerun a logged seed), else random.
inline uint32_t FuzzSeed() {
  uint32_t seed;
  const char* env = std::getenv("KILN_FUZZ_SEED");
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return std::random_device{}();
}

// Applies one to four random mutations to `input`: flip a bit, overwrite a byte with
// `overwrite(rng)` (a byte that matters to the format under test), insert a byte, delete a byte,
// truncate, or duplicate a slice.
template <typename Overwrite>
void Mutate(std::mt19937& rng, std::string& input, Overwrite overwrite) {
  const int mutations = 1 + rng() % 4;
  for (int m = 0; m < mutations && !input.empty(); ++m) {
    const size_t pos = rng() % input.size();
    switch (rng() % 6) {
      case 0:  // Flip a bit.
        input[pos] = static_cast<char>(input[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:
        input[pos] = overwrite(rng);
        break;
      case 2:  // Insert a byte.
        input.insert(input.begin() + pos, static_cast<char>(rng() & 0xff));
        break;
      case 3:  // Delete a byte.
        input.erase(pos, 1);
        break;
      case 4:  // Truncate.
        input.resize(pos);
        break;
      default:  // Duplicate a slice.
        input.insert(pos, input.substr(rng() % input.size(), rng() % 16));
        break;
    }
  }
}

}  // namespace kiln::testing
