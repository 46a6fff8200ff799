// A commit request shared by the metadata tests: entry `cid` as the only head of t1/l1.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln::metadata {

inline v1::CommitRequest CommitAt(uint64_t expected, const std::string& cid) {
  v1::CommitRequest r;
  r.set_tenant("t1");
  r.set_ledger("l1");
  r.add_writers("w1");
  r.set_expected_version(expected);
  v1::MetaEntry* e = r.add_entries();
  e->set_cid(cid);
  e->set_data("M" + cid);
  r.add_heads(cid);
  return r;
}

}  // namespace kiln::metadata
