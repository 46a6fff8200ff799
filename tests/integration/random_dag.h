// Helpers for the property tests that push random DAGs of meta entries through merge
// (tests/merge/merge_test.cc, tests/metadata/postgres_mesh_test.cc): a random DAG by several
// writers, the head set the ledger must end with, and a random arrival order with duplicates
// dealt over several merges. Header-only; pure functions of their arguments (and the caller's
// generator and callback).
#pragma once

#include <algorithm>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/cid.h"
#include "common/meta_event.h"

namespace kiln::testing {

// `count` entries by three writers: each entry extends its writer's previous entry (none for a
// writer's first) and a third of them also merge a random earlier entry. Entry i names the CAR
// `car(i)` returns (the caller stores it), called once per entry in order.
inline std::vector<EncodedMetaEntry> RandomWriterDag(std::mt19937_64& rng, int count,
                                                     const std::function<Cid(int)>& car) {
  std::vector<EncodedMetaEntry> nodes;
  std::vector<std::vector<int>> writer_heads(3);
  for (int i = 0; i < count; ++i) {
    int w = static_cast<int>(rng() % 3);
    std::set<int> parent_ids(writer_heads[w].begin(), writer_heads[w].end());
    if (!nodes.empty() && rng() % 3 == 0) {
      parent_ids.insert(static_cast<int>(rng() % nodes.size()));
    }
    std::vector<Cid> parents;
    for (int p : parent_ids) parents.push_back(*ParseCid(nodes[p].cid));
    nodes.push_back(EncodeMetaEntry({car(i)}, parents));
    writer_heads[w] = {i};
  }
  return nodes;
}

// Every CID of a DAG and its heads (the CIDs no entry names as a parent), both sorted.
struct DagCids {
  std::vector<std::string> all;
  std::vector<std::string> heads;
};

inline DagCids CidsOf(const std::vector<EncodedMetaEntry>& entries) {
  std::set<std::string> all, referenced;
  for (const auto& e : entries) {
    all.insert(e.cid);
    referenced.insert(e.parents.begin(), e.parents.end());
  }
  DagCids out;
  out.all.assign(all.begin(), all.end());
  std::set_difference(all.begin(), all.end(), referenced.begin(), referenced.end(),
                      std::back_inserter(out.heads));
  return out;
}

// The indexes 0..count-1 once each plus `duplicates` repeats drawn at random, shuffled, then
// dealt at random over `lanes` lanes (one per merge instance).
inline std::vector<std::vector<int>> ArrivalLanes(std::mt19937_64& rng, int count, int duplicates,
                                                  int lanes) {
  std::vector<int> order;
  for (int i = 0; i < count; ++i) order.push_back(i);
  for (int i = 0; i < duplicates; ++i) order.push_back(static_cast<int>(rng() % count));
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<int>> out(lanes);
  for (int idx : order) out[rng() % lanes].push_back(idx);
  return out;
}

}  // namespace kiln::testing
