#include "services/metadata/reader_order.h"

#include <algorithm>
#include <utility>

namespace kiln::metadata {
namespace {

// True when a writer other than `x`'s committed before and after `x`'s latest entry.
bool CommittedAround(const google::protobuf::RepeatedPtrField<v1::WriterHead>& writers,
                     const v1::WriterHead& x) {
  for (const auto& v : writers) {
    if (v.writer() != x.writer() && v.first_seq() < x.seq() && v.seq() > x.seq()) return true;
  }
  return false;
}

}  // namespace

WriterLatestGroups SplitWriterLatest(
    const google::protobuf::RepeatedPtrField<v1::WriterHead>& writers,
    const std::set<std::string>& heads) {
  std::vector<const v1::WriterHead*> sorted;
  for (const auto& wh : writers) {
    if (heads.count(wh.cid()) == 0) sorted.push_back(&wh);
  }
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const v1::WriterHead* a, const v1::WriterHead* b) { return a->seq() < b->seq(); });
  WriterLatestGroups groups;
  std::set<std::string> seen;
  for (const v1::WriterHead* wh : sorted) {
    if (!seen.insert(wh->cid()).second) continue;
    (CommittedAround(writers, *wh) ? groups.before_heads : groups.after_heads).push_back(wh->cid());
  }
  return groups;
}

}  // namespace kiln::metadata
