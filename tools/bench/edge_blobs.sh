#!/usr/bin/env bash
# Edge CPU per MiB of blob traffic, direct presigned S3 URLs against the proxied /blob path (a
# benchmark, not a test). Needs the services built in BUILD_DIR, tests/e2e and
# tests/support/s3rver npm-installed (tools/dev test does both).
# Usage: tools/bench/edge_blobs.sh        Environment: SIZE (bytes, 16 MiB), BLOBS (8), MODES
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export KILN_BUILD_DIR=${BUILD_DIR:-$REPO/build}
for mode in ${MODES:-s3 s3-proxied rocksdb}; do
  KILN_E2E_BLOBS=$mode node "$REPO/tools/bench/edge_blobs.mjs"
done
