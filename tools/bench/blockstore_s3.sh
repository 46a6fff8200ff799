#!/usr/bin/env bash
# Block-store on S3 benchmark (`tools/bench/blockstore.sh s3`; a benchmark, not a test: it never
# fails on a missed target).
#
# Starts s3rver (the pinned S3-compatible test server, tests/support/s3rver; `npm ci` there first)
# on a loopback port in a temporary directory and a kiln-blockstore on an s3:// backend pointing at
# it. For each case it runs, back to back in the same run, the same closed-loop load twice:
#   direct  kiln-s3-load: PUT/GET of the objects straight to s3rver (the client Kiln's s3 backend
#           uses: SigV4, pooled keep-alive libcurl)
#   kiln    kiln-blockstore-load: Put/Get over gRPC to kiln-blockstore, which stores to s3rver
# and prints both with their ratio (target: kiln >= 0.8x direct). Builds nothing: run
# `ninja -C build kiln-blockstore kiln-blockstore-load kiln-s3-load` first.
#
# Environment (all optional):
#   BUILD_DIR   build tree with the binaries (default: <repo>/build)
#   DURATION    seconds of load per run (default: 10)
#   CASES       op:size:clients triples (default: put and get of 1 MiB with 1 and 8 clients)
#   QUIET_WAIT  seconds to wait before each run for the machine to be idle (default: 60)
#   GET_BLOBS   for get cases: objects each load tool uploads first and reads in turn (default: 64;
#               use 2 for 64 MiB blobs)
#   SERVER_BIN  the kiln-blockstore to measure (default: the one in BUILD_DIR), e.g. an older build
#   SERVER_ARGS extra kiln-blockstore flags, e.g. "--get_chunk_bytes=1048576"
#   BACKEND     the block-store's --backend, with {s3} standing for an s3:// URL of the bucket,
#               {endpoint} for s3rver's address (to write other s3:// URLs) and {dir} for a fresh
#               directory (default: {s3}), e.g. "mirror(rocksdb://{dir}, {s3})" or
#               "cache(memory://, {s3})"
#   DIRECT      0 to skip the direct runs (when only the block-store's memory is of interest)
# The block-store's peak resident memory (VmHWM, a high-water mark over the whole run) is printed
# after each case: with large blobs it shows whether a put or get holds the blob whole.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
DURATION=${DURATION:-10}
CASES=${CASES:-"put:1048576:1 put:1048576:8 get:1048576:1 get:1048576:8"}
QUIET_WAIT=${QUIET_WAIT:-60}
GET_BLOBS=${GET_BLOBS:-64}
SERVER_ARGS=${SERVER_ARGS:-}
BACKEND=${BACKEND:-'{s3}'}
DIRECT=${DIRECT:-1}
S3RVER=${KILN_S3RVER_DIR:-$REPO/tests/support/s3rver}/node_modules/s3rver/bin/s3rver.js

SERVER_BIN=${SERVER_BIN:-$BUILD_DIR/services/blockstore/kiln-blockstore}
LOAD_BIN=$BUILD_DIR/tools/kiln-blockstore-load
S3_LOAD_BIN=$BUILD_DIR/tools/kiln-s3-load
log() { echo "blockstore_s3.sh: $*" >&2; }
for bin in "$SERVER_BIN" "$LOAD_BIN" "$S3_LOAD_BIN"; do
  [[ -x $bin ]] || { log "$bin not found; run ninja -C $BUILD_DIR kiln-blockstore kiln-blockstore-load kiln-s3-load"; exit 2; }
done
[[ -f $S3RVER ]] || { log "s3rver missing: (cd tests/support/s3rver && npm ci)"; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=tools/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

# s3rver on a port it picks; its ListObjectsV2 needs Node's legacy OpenSSL provider (DES tokens).
mkdir -p "$WORK/s3"
node --openssl-legacy-provider "$S3RVER" --silent --address 127.0.0.1 --port 0 \
  --directory "$WORK/s3" --configure-bucket kiln >"$WORK/s3rver.log" 2>&1 &
S3_PID=$!
PIDS+=("$S3_PID")
for ((i = 0; i < 300; i++)); do
  S3_PORT=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/s3rver.log" 2>/dev/null || true)  # the log may not exist yet
  [[ -n $S3_PORT ]] && break
  sleep 0.1
done
[[ -n ${S3_PORT:-} ]] || { log "s3rver did not start"; cat "$WORK/s3rver.log" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
ENDPOINT=http://127.0.0.1:$S3_PORT

# The replacements are quoted: the URL's '&' must not stand for the matched text (bash 5.2).
SPEC=${BACKEND//'{s3}'/"s3://kiln/kiln?endpoint=$ENDPOINT&path_style=true"}
SPEC=${SPEC//'{endpoint}'/"$ENDPOINT"}
SPEC=${SPEC//'{dir}'/"$WORK/db"}
log "block-store backend: $SPEC"
# shellcheck disable=SC2086  # SERVER_ARGS is a word list on purpose
"$SERVER_BIN" --backend="$SPEC" $SERVER_ARGS \
  --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --ready_file="$WORK/ready" \
  2>"$WORK/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for ((i = 0; i < 300; i++)); do
  grep -qx ready "$WORK/ready" 2>/dev/null && break
  sleep 0.1
done
GRPC_PORT=$(awk -F= '$1 == "grpc_port" { print $2 }' "$WORK/ready")
echo "kiln-blockstore peak RSS when ready, before any load (VmHWM):" \
  "$(awk '$1 == "VmHWM:" { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status") MiB"

declare -A R
FAILED=0
for spec in $CASES; do
  IFS=: read -r op size clients <<<"$spec"
  name="$op-$size-c$clients"
  if [[ $DIRECT != 0 ]]; then
    wait_for_quiet
    log "$name direct to s3rver for ${DURATION}s"
    s0=$(proc_cpu_secs "$S3_PID")
    R[$name.direct]=$("$S3_LOAD_BIN" --endpoint="$ENDPOINT" --bucket=kiln --op="$op" \
      --size="$size" --clients="$clients" --get_blobs="$GET_BLOBS" --duration="${DURATION}s") ||
      FAILED=1
    R[$name.direct_s3cpu]=$(awk -v a="$(proc_cpu_secs "$S3_PID")" -v b="$s0" \
      -v s="$(field "${R[$name.direct]}" secs)" 'BEGIN { printf "%.2f", (a - b) / s }')
  fi
  wait_for_quiet
  log "$name through kiln-blockstore for ${DURATION}s"
  s0=$(proc_cpu_secs "$S3_PID")
  k0=$(proc_cpu_secs "$SERVER_PID")
  R[$name.kiln]=$("$LOAD_BIN" --target="127.0.0.1:$GRPC_PORT" --op="$op" --size="$size" \
    --clients="$clients" --chunk=1048576 --get_blobs="$GET_BLOBS" --duration="${DURATION}s") ||
    FAILED=1
  secs=$(field "${R[$name.kiln]}" secs)
  R[$name.kiln_s3cpu]=$(awk -v a="$(proc_cpu_secs "$S3_PID")" -v b="$s0" -v s="$secs" \
    'BEGIN { printf "%.2f", (a - b) / s }')
  R[$name.kiln_srvcpu]=$(awk -v a="$(proc_cpu_secs "$SERVER_PID")" -v b="$k0" -v s="$secs" \
    'BEGIN { printf "%.2f", (a - b) / s }')
  R[$name.hwm]=$(awk '$1 == "VmHWM:" { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status")
  echo "direct: ${R[$name.direct]:-skipped}"
  echo "kiln:   ${R[$name.kiln]}"
  echo "kiln-blockstore peak RSS so far (VmHWM): ${R[$name.hwm]} MiB"
done

echo
echo "== kiln-blockstore ($BACKEND) on s3rver vs direct S3 requests: $(nproc) CPUs, DURATION=${DURATION}s =="
printf '%-18s %12s %12s %8s %14s %14s %10s %9s\n' case direct_MB/s kiln_MB/s ratio \
  direct_p50_ms kiln_p50_ms cpu:s3rver/blockstore srv_hwm_MiB
for spec in $CASES; do
  IFS=: read -r op size clients <<<"$spec"
  name="$op-$size-c$clients"
  d=$(field "${R[$name.direct]:-}" MB_per_sec)
  k=$(field "${R[$name.kiln]:-}" MB_per_sec)
  printf '%-18s %12s %12s %8s %14s %14s %10s %9s\n' "$name" "${d:--}" "${k:--}" \
    "$(awk -v d="${d:-0}" -v k="${k:-0}" 'BEGIN { if (d > 0) printf "%.2fx", k / d; else print "-" }')" \
    "$(field "${R[$name.direct]:-}" p50_ms)" "$(field "${R[$name.kiln]:-}" p50_ms)" \
    "${R[$name.direct_s3cpu]:-}|${R[$name.kiln_s3cpu]:-}/${R[$name.kiln_srvcpu]:-}" \
    "${R[$name.hwm]:-}"
done
echo "(ratio: kiln MB/s over direct MB/s, target >= 0.80x; cpu: cores used by s3rver in the direct"
echo " run | by s3rver / by kiln-blockstore in the kiln run; srv_hwm_MiB: the block-store's peak"
echo " resident memory since it started, after the case)"
[[ $FAILED -eq 0 ]] || { log "some runs reported errors"; exit 1; }
