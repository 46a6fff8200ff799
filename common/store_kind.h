// StoreKind: which of a ledger's four blob stores a blob lives in (the Fireproof gestalt's
// storeTypes). One type for the whole tree: the block-store's backends key blobs by it, the edge
// and kiln-admin name it with a string ("car", "file", "meta", "wal"), and the wire carries it as
// kiln.blockstore.v1.Store (same numbers; conversions in common/store_kind_proto.h).
//
// Threading: pure functions and constants.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace kiln {

// The values equal kiln.blockstore.v1.Store's and are the store byte of block-store keys: never
// renumber.
enum class StoreKind : uint8_t { kCar = 1, kFile = 2, kMeta = 3, kWal = 4 };

// Every store kind, in number order.
inline constexpr std::array<StoreKind, 4> kAllStoreKinds = {StoreKind::kCar, StoreKind::kFile,
                                                            StoreKind::kMeta, StoreKind::kWal};

// "car", "file", "meta" or "wal"; "unknown" for a value outside the enum.
inline absl::string_view StoreKindName(StoreKind kind) {
  switch (kind) {
    case StoreKind::kCar:
      return "car";
    case StoreKind::kFile:
      return "file";
    case StoreKind::kMeta:
      return "meta";
    case StoreKind::kWal:
      return "wal";
  }
  return "unknown";
}

// The kind a name from StoreKindName stands for; nullopt for any other string.
inline std::optional<StoreKind> StoreKindFromName(absl::string_view name) {
  for (StoreKind kind : kAllStoreKinds) {
    if (StoreKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace kiln
