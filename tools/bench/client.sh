#!/usr/bin/env bash
# Real-client benchmark: the unmodified Fireproof client against Kiln and against the differential
# oracle in the same run (see tools/bench/client.mjs). A benchmark, not a test.
# Builds nothing: run `ninja -C build kiln-blockstore kiln-metadata kiln-merge kiln-edge` and
# `(cd tests/e2e && npm ci)` first (tools/dev test does both).
# Environment: BUILD_DIR (build), SIZES ("100 1000 5000"), SERVERS ("kiln oracle"; also kiln:nosync,
# oracle:<ack delay ms>),
# CONCURRENT ("busy_3x30_reader turns_3x200 rotation_3x200 concurrent_3x200"; empty skips them).
# With RACE_TRIALS=N it runs the concurrent-writers join race N times instead (join-race.mjs;
# also PER, PARALLEL, STAGGER).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$REPO/build}" && pwd)
[ -d "$REPO/tests/e2e/node_modules" ] || { echo "run (cd tests/e2e && npm ci) first" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${RACE_TRIALS:-}" ]; then
  KILN_BUILD_DIR=$BUILD_DIR exec node "$REPO/tools/bench/join-race.mjs"
fi
KILN_BUILD_DIR=$BUILD_DIR exec node "$REPO/tools/bench/client.mjs"
