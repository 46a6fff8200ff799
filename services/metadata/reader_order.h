// Which writers' latest entries a new reader is served before the heads and which after
// (docs/protocol-rules.md, rule 2).
#ifndef KILN_SERVICES_METADATA_READER_ORDER_H_
#define KILN_SERVICES_METADATA_READER_ORDER_H_

#include <set>
#include <string>
#include <vector>

#include "kiln/metadata/v1/storage.pb.h"

namespace kiln::metadata {

struct WriterLatestGroups {
  // Latest entries that other writers committed around: served before the heads.
  std::vector<std::string> before_heads;
  // The other latest entries that are not heads: served after the heads.
  std::vector<std::string> after_heads;
};

// Splits the writers' latest entries that are not in `heads`, each group in acceptance order.
// A writer's latest entry x goes before the heads when another writer committed both before and
// after it: that writer may have taken x's CARs into its CAR log before merging x into its clock,
// so a reader starting from its entries would skip x. Every other latest entry goes after the
// heads.
WriterLatestGroups SplitWriterLatest(
    const google::protobuf::RepeatedPtrField<v1::WriterHead>& writers,
    const std::set<std::string>& heads);

}  // namespace kiln::metadata

#endif  // KILN_SERVICES_METADATA_READER_ORDER_H_
