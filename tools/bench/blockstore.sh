#!/usr/bin/env bash
# Durable block-store benchmark (a benchmark, not a test: it never fails on a missed target).
#
# Measures the disk's synced sequential write bandwidth with dd, then for each case starts a fresh
# kiln-blockstore on a durable RocksDB backend (sync=true, the default) in a temporary directory on
# the repository's filesystem, drives it with kiln-blockstore-load over loopback, scrapes /metrics
# before and after (WAL fsyncs per put = group-commit evidence), and prints a table and the
# targets. Builds nothing: run `ninja -C build kiln-blockstore kiln-blockstore-load` first.
#
# Usage: tools/bench/blockstore.sh            (about 8 cases x DURATION seconds, plus dd)
#        tools/bench/blockstore.sh s3         (block-store on s3rver vs direct S3 requests:
#                                              tools/bench/blockstore_s3.sh)
# Environment (all optional):
#   BUILD_DIR       build tree with the binaries (default: <repo>/build)
#   BENCH_DIR       where the temporary directory goes; must be on the filesystem under test
#                   (default: $BUILD_DIR/bench-tmp)
#   DURATION        seconds of load per case (default: 10)
#   CASES           space-separated op:size:clients triples
#                   (default: put 1 KiB/64 KiB/1 MiB and get 1 MiB, each with 1 and 32 clients)
#   DD_RUNS         dd repetitions; the median is used (default: 3)
#   BACKEND_PARAMS  extra rocksdb URL parameters, e.g. "&block_cache_mb=256"
#   SERVER_ARGS     extra kiln-blockstore flags, e.g. "--io_threads=32"
#   SERVER_ENV      extra environment for the server, e.g. "GLIBC_TUNABLES=..."
#   LOAD_ARGS       extra kiln-blockstore-load flags, e.g. "--chunk=1048576 --channels=8"
#   LOAD_ENV        extra environment for the load tool
#   QUIET_WAIT      seconds to wait, before each case, for the machine to be idle (under 15% busy
#                   over one second); other work on a small machine skews the figures, and the
#                   "other" CPU column shows how much there was (default: 120)
# Exit status: 0 when every run completed without errors, 1 otherwise.
set -euo pipefail
export LC_ALL=C
if [[ ${1:-} == s3 ]]; then
  shift
  exec "$(dirname "${BASH_SOURCE[0]}")/blockstore_s3.sh" "$@"
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-$BUILD_DIR/bench-tmp}
DURATION=${DURATION:-10}
DD_RUNS=${DD_RUNS:-3}
CASES=${CASES:-"put:1024:1 put:1024:32 put:65536:1 put:65536:32 put:1048576:1 put:1048576:32 get:1048576:1 get:1048576:32"}
BACKEND_PARAMS=${BACKEND_PARAMS:-}
SERVER_ARGS=${SERVER_ARGS:-}
SERVER_ENV=${SERVER_ENV:-}
LOAD_ARGS=${LOAD_ARGS:-}
LOAD_ENV=${LOAD_ENV:-}
QUIET_WAIT=${QUIET_WAIT:-120}
NPROC=$(nproc)

SERVER_BIN=$BUILD_DIR/services/blockstore/kiln-blockstore
LOAD_BIN=$BUILD_DIR/tools/kiln-blockstore-load
for bin in "$SERVER_BIN" "$LOAD_BIN"; do
  if [[ ! -x $bin ]]; then
    echo "blockstore.sh: $bin not found; build it first:" >&2
    echo "  ninja -C $BUILD_DIR kiln-blockstore kiln-blockstore-load" >&2
    exit 2
  fi
done
for tool in curl dd awk; do
  command -v "$tool" >/dev/null || { echo "blockstore.sh: $tool is required" >&2; exit 2; }
done

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
SERVER_PID=""
LOAD_PID=""

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  if [[ -n $LOAD_PID ]]; then
    kill -TERM "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
  fi
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "blockstore.sh: $*" >&2; }

# shellcheck source=tools/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
# Value of metric $2 in the scrape file $1 (0 when absent).
metric() {
  awk -v name="$2" '$1 == name { v = $2 } END { print v + 0 }' "$1"
}

# --- 1. Disk: synced sequential write bandwidth --------------------------------------------------
log "dd: 512 MiB, O_DIRECT + fdatasync, $DD_RUNS run(s) in $WORK"
dd_results=()
for ((i = 0; i < DD_RUNS; i++)); do
  out=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=512 oflag=direct conv=fdatasync 2>&1)
  rm -f "$WORK/ddtest"
  # "536870912 bytes (537 MB, 512 MiB) copied, 0.75 s, 711 MB/s": compute from bytes and seconds
  # so that dd's choice of unit (MB/s, GB/s) does not matter.
  dd_results+=("$(awk '/copied/ { printf "%.1f", $1 / $(NF - 3) / 1e6 }' <<<"$out")")
done
DD_MBPS=$(printf '%s\n' "${dd_results[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
log "dd MB/s: ${dd_results[*]} (median $DD_MBPS)"
# For context only: the bandwidth when every 1 MiB is made durable on its own (O_DSYNC), i.e. a
# write pattern without group commit.
out=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=256 oflag=dsync 2>&1)
rm -f "$WORK/ddtest"
DD_DSYNC_MBPS=$(awk '/copied/ { printf "%.1f", $1 / $(NF - 3) / 1e6 }' <<<"$out")
log "dd with a sync per 1 MiB (oflag=dsync): $DD_DSYNC_MBPS MB/s"

# --- 2. Cases ------------------------------------------------------------------------------------
start_server() {  # $1: case name
  local db=$WORK/db-$1 ready=$WORK/ready-$1
  # shellcheck disable=SC2086  # SERVER_ENV and SERVER_ARGS are word lists on purpose
  env $SERVER_ENV "$SERVER_BIN" --backend="rocksdb://$db?sync=true$BACKEND_PARAMS" \
    --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --ready_file="$ready" \
    $SERVER_ARGS 2>"$WORK/server-$1.log" &
  SERVER_PID=$!
  for ((i = 0; i < 300; i++)); do
    if [[ -f $ready ]] && grep -qx ready "$ready"; then
      GRPC_PORT=$(awk -F= '$1 == "grpc_port" { print $2 }' "$ready")
      METRICS_PORT=$(awk -F= '$1 == "metrics_port" { print $2 }' "$ready")
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "kiln-blockstore did not become ready; its log:"
  tail -20 "$WORK/server-$1.log" >&2
  return 1
}

scrape() {  # $1: output file
  curl -sf --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics" >"$1"
}

declare -A RESULT
FAILED=0
for spec in $CASES; do
  IFS=: read -r op size clients <<<"$spec"
  name="$op-$size-c$clients"
  wait_for_quiet
  start_server "$name"
  scrape "$WORK/before-$name"
  server_cpu0=$(proc_cpu_secs "$SERVER_PID")
  read -r busy0 total0 < <(machine_jiffies)
  log "running $name for ${DURATION}s"
  # shellcheck disable=SC2086
  env $LOAD_ENV "$LOAD_BIN" --target="127.0.0.1:$GRPC_PORT" --op="$op" --size="$size" \
    --clients="$clients" --duration="${DURATION}s" $LOAD_ARGS >"$WORK/load-$name.out" &
  LOAD_PID=$!
  wait "$LOAD_PID" || FAILED=1
  LOAD_PID=""
  line=$(cat "$WORK/load-$name.out")
  read -r busy1 total1 < <(machine_jiffies)
  server_cpu1=$(proc_cpu_secs "$SERVER_PID")
  scrape "$WORK/after-$name"
  stop_server
  rm -rf "$WORK/db-$name"
  if [[ -z $line ]]; then
    log "$name produced no result"
    FAILED=1
    continue
  fi
  echo "$line"
  secs=$(field "$line" secs)
  b=$WORK/before-$name a=$WORK/after-$name
  syncs=$(awk -v a="$(metric "$a" kiln_blockstore_rocksdb_wal_syncs_total)" \
    -v b="$(metric "$b" kiln_blockstore_rocksdb_wal_syncs_total)" 'BEGIN { print a - b }')
  grouped=$(awk -v a="$(metric "$a" kiln_blockstore_rocksdb_writes_grouped_total)" \
    -v b="$(metric "$b" kiln_blockstore_rocksdb_writes_grouped_total)" 'BEGIN { print a - b }')
  written=$(awk -v a="$(metric "$a" kiln_blockstore_blobs_written_total)" \
    -v b="$(metric "$b" kiln_blockstore_blobs_written_total)" 'BEGIN { print a - b }')
  RESULT[$name]=$line
  RESULT[$name.syncs_per_put]=$(awk -v s="$syncs" -v w="$written" \
    'BEGIN { if (w > 0) printf "%.3f", s / w; else print "-" }')
  RESULT[$name.grouped]=$(awk -v g="$grouped" -v w="$written" \
    'BEGIN { if (w > 0) printf "%.0f%%", 100 * g / w; else print "-" }')
  # CPU in cores (CPU-seconds per second): server, load tool, and everything else on the machine
  # (other work, plus kernel time not charged to either process).
  RESULT[$name.server_cpu]=$(awk -v a="$server_cpu1" -v b="$server_cpu0" -v s="$secs" \
    'BEGIN { printf "%.2f", (a - b) / s }')
  RESULT[$name.other_cpu]=$(awk -v b0="$busy0" -v b1="$busy1" -v t0="$total0" -v t1="$total1" \
    -v n="$NPROC" -v srv="${RESULT[$name.server_cpu]}" -v cli="$(field "$line" client_cpu)" \
    'BEGIN { o = n * (b1 - b0) / (t1 - t0) - srv - cli; printf "%.2f", (o < 0 ? 0 : o) }')
done

# --- 3. Summary ----------------------------------------------------------------------------------
echo
echo "== kiln-blockstore durable benchmark: $NPROC CPUs, DURATION=${DURATION}s =="
echo "dd 512 MiB direct+fdatasync: $DD_MBPS MB/s (runs: ${dd_results[*]});" \
  "dd 1 MiB writes with O_DSYNC: $DD_DSYNC_MBPS MB/s"
printf '%-17s %9s %8s %9s %9s %6s %9s %7s %15s\n' case ops/s MB/s p50_ms p99_ms errors \
  syncs/put grouped cpu:srv/cli/oth
for spec in $CASES; do
  IFS=: read -r op size clients <<<"$spec"
  name="$op-$size-c$clients"
  line=${RESULT[$name]:-}
  [[ -z $line ]] && continue
  printf '%-17s %9s %8s %9s %9s %6s %9s %7s %15s\n' "$name" \
    "$(field "$line" ops_per_sec)" "$(field "$line" MB_per_sec)" "$(field "$line" p50_ms)" \
    "$(field "$line" p99_ms)" "$(field "$line" errors)" \
    "$([[ $op == put ]] && echo "${RESULT[$name.syncs_per_put]}" || echo -)" \
    "$([[ $op == put ]] && echo "${RESULT[$name.grouped]}" || echo -)" \
    "${RESULT[$name.server_cpu]}/$(field "$line" client_cpu)/${RESULT[$name.other_cpu]}"
done
echo "(syncs/put: WAL fsyncs per stored blob; grouped: share of puts committed by another thread's"
echo " write group; cpu: cores used by the server, the load tool, and anything else)"

echo
echo "== targets =="
# $1 label, $2 case, $3 measured value (empty when the case did not run), $4 goal, $5 note
target() {
  if [[ -z ${RESULT[$2]:-} ]]; then
    printf '%-46s %s\n' "$1" "not run ($2 not in CASES)"
    return
  fi
  awk -v label="$1" -v v="$3" -v goal="$4" -v note="$5" 'BEGIN {
    printf "%-46s %9.3f  target >= %-6s %-7s %s\n", label, v, goal, (v >= goal ? "MET" : "MISSED"), note }'
}
target "durable 1 KiB puts/s, 32 clients" put-1024-c32 \
  "$(field "${RESULT[put-1024-c32]:-}" ops_per_sec)" 2000 ""
ingest=$(field "${RESULT[put-1048576-c32]:-}" MB_per_sec)
target "durable 1 MiB ingest / dd bandwidth, 32 clients" put-1048576-c32 \
  "$(awk -v m="${ingest:-0}" -v d="$DD_MBPS" 'BEGIN { printf "%.3f", m / d }')" 0.40 \
  "(${ingest:-?} of $DD_MBPS MB/s)"
target "1 MiB get MB/s, 32 clients" get-1048576-c32 \
  "$(field "${RESULT[get-1048576-c32]:-}" MB_per_sec)" 400 ""
if [[ $FAILED -ne 0 ]]; then
  log "some runs reported errors (see above)"
  exit 1
fi
