// The head-set rule of the merge service, as a pure function.
//
// A ledger's heads are its accepted entries that no accepted entry lists as a parent. Adding
// entries N (with parents P = union of their parents) to a ledger whose heads are H gives
//   H' = (H - P) + { n in N : n not in P and no already-accepted entry lists n as a parent }.
// Because this equals "accepted minus referenced" for the grown set, the result does not depend
// on the order in which entries arrive, and re-adding accepted entries changes nothing.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace kiln::merge {

struct NewEntry {
  std::string cid;
  std::vector<std::string> parents;
};

// `new_entries` must hold only entries not yet accepted; `referenced` the CIDs among them that some
// accepted entry lists as a parent. Returns the new head set, sorted and without duplicates.
std::vector<std::string> AdvanceHeads(const std::vector<std::string>& heads,
                                      const std::vector<NewEntry>& new_entries,
                                      const absl::flat_hash_set<std::string>& referenced);

}  // namespace kiln::merge
