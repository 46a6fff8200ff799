// Conversions between StoreKind (common/store_kind.h) and its wire form kiln.blockstore.v1.Store,
// for code that already speaks the block-store protocol. Header-only; pure functions.
#pragma once

#include <optional>

#include "common/store_kind.h"
#include "kiln/blockstore/v1/blockstore.pb.h"

namespace kiln {

inline blockstore::v1::Store ToProto(StoreKind kind) {
  return static_cast<blockstore::v1::Store>(kind);
}

// nullopt for STORE_UNSPECIFIED and any number outside the enum.
inline std::optional<StoreKind> StoreKindFromProto(blockstore::v1::Store store) {
  switch (store) {
    case blockstore::v1::STORE_CAR:
      return StoreKind::kCar;
    case blockstore::v1::STORE_FILE:
      return StoreKind::kFile;
    case blockstore::v1::STORE_META:
      return StoreKind::kMeta;
    case blockstore::v1::STORE_WAL:
      return StoreKind::kWal;
    default:
      return std::nullopt;
  }
}

}  // namespace kiln
