#include "services/merge/heads.h"

#include <algorithm>

namespace kiln::merge {

std::vector<std::string> AdvanceHeads(const std::vector<std::string>& heads,
                                      const std::vector<NewEntry>& new_entries,
                                      const absl::flat_hash_set<std::string>& referenced) {
  absl::flat_hash_set<std::string> parents;
  for (const auto& e : new_entries) parents.insert(e.parents.begin(), e.parents.end());
  std::vector<std::string> out;
  for (const auto& h : heads) {
    if (!parents.contains(h)) out.push_back(h);
  }
  for (const auto& e : new_entries) {
    if (!parents.contains(e.cid) && !referenced.contains(e.cid)) out.push_back(e.cid);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kiln::merge
