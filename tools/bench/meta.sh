#!/usr/bin/env bash
# Merge -> metadata benchmark (a benchmark, not a test: it never fails on a missed target).
#
# Starts kiln-blockstore, kiln-metadata (durable RocksDB, sync on) and kiln-merge on loopback in a
# temporary directory on the repository's filesystem, then runs kiln-meta-load twice:
#   1. commits: WRITERS writers over LEDGERS ledgers for DURATION seconds (real dag-cbor entries
#      whose CARs are in the block-store), reporting acknowledged commits/s;
#   2. watch: WATCHERS Watch streams on one ledger while one writer commits COMMITS entries,
#      reporting the delay from each put's acknowledgement to each watcher's receipt.
# Builds nothing: run `ninja -C build kiln-blockstore kiln-metadata kiln-merge kiln-meta-load`.
# Environment: BUILD_DIR, BENCH_DIR, DURATION (10), WRITERS (64), LEDGERS (16), WATCHERS (1000),
# COMMITS (200), INTERVAL (20ms), MERGE_ARGS, METADATA_ARGS (extra flags for the services).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-$BUILD_DIR/bench-tmp}
DURATION=${DURATION:-10}
WRITERS=${WRITERS:-64}
LEDGERS=${LEDGERS:-16}
WATCHERS=${WATCHERS:-1000}
COMMITS=${COMMITS:-200}
INTERVAL=${INTERVAL:-20ms}
MERGE_ARGS=${MERGE_ARGS:-}
METADATA_ARGS=${METADATA_ARGS:-}
BIN=$BUILD_DIR/services
LOAD=$BUILD_DIR/tools/kiln-meta-load
for b in "$BIN/blockstore/kiln-blockstore" "$BIN/metadata/kiln-metadata" "$BIN/merge/kiln-merge" \
  "$LOAD"; do
  [[ -x $b ]] || { echo "meta.sh: $b not built" >&2; exit 2; }
done
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/meta.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

port() {  # name key -> port from the ready file
  grep "^$2=" "$WORK/$1.ready" | cut -d= -f2
}
start() {  # name binary args...
  local name=$1; shift
  "$@" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --ready_file="$WORK/$name.ready" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do [[ -f $WORK/$name.ready ]] && return 0; sleep 0.1; done
  echo "meta.sh: $name did not start; see $WORK/$name.log" >&2
  exit 1
}

openssl rand -hex 32 >"$WORK/kek"
start blockstore "$BIN/blockstore/kiln-blockstore" --backend="rocksdb://$WORK/blocks"
start metadata "$BIN/metadata/kiln-metadata" --backend="rocksdb://$WORK/meta" \
  --kek_file="$WORK/kek" $METADATA_ARGS
BS=127.0.0.1:$(port blockstore grpc_port)
MD=127.0.0.1:$(port metadata grpc_port)
start merge "$BIN/merge/kiln-merge" --blockstore_target="$BS" --metadata_target="$MD" $MERGE_ARGS
MG=127.0.0.1:$(port merge grpc_port)
MD_METRICS=$(port metadata metrics_port)

echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; data in $WORK"
commits=$("$LOAD" --mode=commits --merge_target="$MG" --blockstore_target="$BS" \
  --writers="$WRITERS" --ledgers="$LEDGERS" --duration="${DURATION}s" --run_id=c)
echo "$commits"
syncs=$(curl -s "127.0.0.1:$MD_METRICS/metrics" | awk '/^kiln_metadata_commits_total\{result="ok"\}/{print $2}')
echo "# metadata commits (after merge batching): $syncs"
watch=$("$LOAD" --mode=watch --merge_target="$MG" --blockstore_target="$BS" --metadata_target="$MD" \
  --watchers="$WATCHERS" --commits="$COMMITS" --interval="$INTERVAL" --run_id=w)
echo "$watch"
rate=$(sed -n 's/.*commits_per_sec=\([0-9.]*\).*/\1/p' <<<"$commits")
p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$watch")
echo "# target: >= 3000 durable commits/s with $WRITERS writers over $LEDGERS ledgers: got $rate"
echo "# target: push p99 <= 10 ms to $WATCHERS watchers from acknowledgement: got $p99 ms"
