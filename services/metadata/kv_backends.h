// The metadata service's storage schemes:
//   memory://                    in process memory (tests, ephemeral use)
//   rocksdb:///abs/path[?sync=false&block_cache_mb=64]
//   postgres://user@host:port/db[?...]  shared by metadata replicas (postgres_kv.h); the password
//                                       comes from $PGPASSWORD or a password file, never the URL
#pragma once

#include "common/backend_url.h"
#include "services/metadata/kv_backend.h"

namespace kiln::metadata {

const BackendRegistry<KvBackend>& KvBackendRegistry();

}  // namespace kiln::metadata
