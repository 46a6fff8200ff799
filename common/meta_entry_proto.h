// The wire form of a meta entry (EncodedMetaEntry, common/meta_event.h) as the metadata and merge
// protocols carry it, kiln.metadata.v1.MetaEntry, for code that already speaks them (load tools,
// tests). Header-only; a pure function.
#pragma once

#include "common/meta_event.h"
#include "kiln/metadata/v1/metadata.pb.h"

namespace kiln {

inline metadata::v1::MetaEntry ToProto(const EncodedMetaEntry& entry) {
  metadata::v1::MetaEntry out;
  out.set_cid(entry.cid);
  for (const std::string& parent : entry.parents) out.add_parents(parent);
  out.set_data(entry.data);
  return out;
}

}  // namespace kiln
