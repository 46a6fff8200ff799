#!/usr/bin/env bash
# The *_ARGS and SERVICE_ENV variables are split into words on purpose.
# shellcheck disable=SC2086
# Edge (WebSocket) benchmark (a benchmark, not a test: it never fails on a missed target).
#
# Starts kiln-blockstore, kiln-metadata (durable RocksDB, sync on), kiln-merge and kiln-edge
# (--auth=none) on loopback in a temporary directory on the repository's filesystem, then runs
# kiln-edge-load:
#   1. fanout: SUBSCRIBERS WebSocket connections bound to one ledger, one writer putting PUTS
#      entries every INTERVAL (each put uploads its CAR through the edge first, like a client);
#      delay from the writer's resPutMeta to each subscriber's eventGetMeta;
#   2. puts: WRITERS closed-loop writing connections for DURATION seconds, one ledger each, then
#      all on one ledger; acknowledged meta puts/s;
#   3. idle: CONNECTIONS connections (gestalt, open, bindGetMeta) held idle, on a fresh edge each
#      time, one ledger each and all on one ledger; the edge's VmRSS before and while they are held.
# For each run it prints the tool's line and the cores each service (and the whole machine) used.
# Builds nothing: run
#   ninja -C build kiln-blockstore kiln-metadata kiln-merge kiln-edge kiln-edge-load
# Environment: BUILD_DIR, BENCH_DIR, SUBSCRIBERS (1000), PUTS (200), INTERVAL (20ms), WRITERS (50),
# DURATION (10), INFLIGHT (1), CONNECTIONS (1000), HOLD (5), THREADS (1, load tool I/O threads),
# EDGE_ARGS, MERGE_ARGS, METADATA_ARGS (extra service flags), SERVICE_ENV (environment for all four
# services, e.g. "GLIBC_TUNABLES=..."), EDGE_BIN (another kiln-edge binary), MODES ("fanout puts idle"),
# PERF (a regex of run labels, e.g. "fanout|puts_one": `perf record -g` the edge during those runs
# into $BENCH_DIR/perf.<label>.data).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$REPO/build}" && pwd)
BENCH_DIR=${BENCH_DIR:-$BUILD_DIR/bench-tmp}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
PUTS=${PUTS:-200}
INTERVAL=${INTERVAL:-20ms}
WRITERS=${WRITERS:-50}
DURATION=${DURATION:-10}
INFLIGHT=${INFLIGHT:-1}
CONNECTIONS=${CONNECTIONS:-1000}
HOLD=${HOLD:-5}
THREADS=${THREADS:-1}
EDGE_ARGS=${EDGE_ARGS:-}
MERGE_ARGS=${MERGE_ARGS:-}
METADATA_ARGS=${METADATA_ARGS:-}
SERVICE_ENV=${SERVICE_ENV:-}
MODES=${MODES:-fanout puts idle}
PERF=${PERF:-}
BIN=$BUILD_DIR/services
EDGE_BIN=${EDGE_BIN:-$BIN/edge/kiln-edge}
LOAD=$BUILD_DIR/tools/kiln-edge-load
for b in "$BIN/blockstore/kiln-blockstore" "$BIN/metadata/kiln-metadata" "$BIN/merge/kiln-merge" \
  "$EDGE_BIN" "$LOAD"; do
  [[ -x $b ]] || { echo "edge.sh: $b not built" >&2; exit 2; }
done
# Every connection is a file descriptor in the edge and in the load tool (the tool raises its own
# soft limit to the hard one; the services inherit this shell's).
ulimit -n "$(ulimit -Hn)"
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
WORK=$(mktemp -d "$BENCH_DIR/edge.XXXXXX")
declare -A PID=()
cleanup() {
  for pid in "${PID[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PID[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

port() {  # name key -> port from the ready file
  grep "^$2=" "$WORK/$1.ready" | cut -d= -f2
}
start() {  # name binary args...: the binary gets --metrics_address and --ready_file
  local name=$1; shift
  rm -f "$WORK/$name.ready"
  env $SERVICE_ENV "$@" --metrics_address=127.0.0.1:0 --ready_file="$WORK/$name.ready" \
    >>"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  for _ in $(seq 1 300); do [[ -f $WORK/$name.ready ]] && return 0; sleep 0.1; done
  echo "edge.sh: $name did not start; see $WORK/$name.log" >&2
  exit 1
}
stop() {  # name
  kill -TERM "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  unset "PID[$1]"
}
cpu_ticks() {  # pid -> utime+stime in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
cpu_snapshot() {  # -> "name=ticks ..." for every service, and machine=busy ticks (/proc/stat)
  local out="" n
  for n in blockstore metadata merge edge; do out+="$n=$(cpu_ticks "${PID[$n]}") "; done
  echo "${out}machine=$(awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat)"
}
cpu_report() {  # before after seconds -> "# cores used: blockstore=0.12 ... machine=1.90"
  local hz out="# cores used during the run:" n b a
  hz=$(getconf CLK_TCK)
  for n in blockstore metadata merge edge machine; do
    b=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$n=//p")
    a=$(tr ' ' '\n' <<<"$2" | sed -n "s/^$n=//p")
    out+=" $n=$(awk -v a="$a" -v b="$b" -v s="$3" -v hz="$hz" 'BEGIN{printf "%.2f", (a-b)/hz/s}')"
  done
  echo "$out (machine: every process, the load tool and other users included)"
}
rss_kib() {  # pid -> VmRSS in KiB
  awk '/^VmRSS:/{print $2}' "/proc/$1/status"
}
metric() {  # name-regex -> value from the edge's /metrics
  curl -s "127.0.0.1:$(port edge metrics_port)/metrics" | awk -v re="$1" '$0 ~ "^"re {print $2; exit}'
}
start_edge() {
  start edge "$EDGE_BIN" --http_address=127.0.0.1:0 --auth=none \
    --blockstore_target="$BS" --metadata_target="$MD" --merge_target="$MG" $EDGE_ARGS
  EDGE=127.0.0.1:$(port edge http_port)
}
run() {  # label load-args... : runs the tool, prints its line and the cores each process used
  local label=$1; shift
  local before after t0 t1 line
  local perf_pid=""
  if [[ -n $PERF && $label =~ ^($PERF)$ ]]; then
    perf record -F 999 -g -p "${PID[edge]}" -o "$BENCH_DIR/perf.$label.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  before=$(cpu_snapshot); t0=$(date +%s.%N)
  line=$("$LOAD" --edge="$EDGE" --threads="$THREADS" "$@" 2>"$WORK/load-$label.err") || true
  t1=$(date +%s.%N); after=$(cpu_snapshot)
  if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    echo "# perf profile of the edge: $BENCH_DIR/perf.$label.data"
  fi
  grep '^#' "$WORK/load-$label.err" | grep -v 'set up in' >&2 || true
  grep -v '^#' "$WORK/load-$label.err" | head -5 >&2 || true
  echo "$line"
  cpu_report "$before" "$after" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
  RESULT[$label]=$line
}
declare -A RESULT=()
field() {  # label key -> value
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" ${RESULT[$1]:-}"
}

openssl rand -hex 32 >"$WORK/kek"
start blockstore "$BIN/blockstore/kiln-blockstore" --grpc_address=127.0.0.1:0 \
  --backend="rocksdb://$WORK/blocks"
start metadata "$BIN/metadata/kiln-metadata" --grpc_address=127.0.0.1:0 \
  --backend="rocksdb://$WORK/meta" --kek_file="$WORK/kek" $METADATA_ARGS
BS=127.0.0.1:$(port blockstore grpc_port)
MD=127.0.0.1:$(port metadata grpc_port)
start merge "$BIN/merge/kiln-merge" --grpc_address=127.0.0.1:0 --blockstore_target="$BS" \
  --metadata_target="$MD" $MERGE_ARGS
MG=127.0.0.1:$(port merge grpc_port)
start_edge

echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; ulimit -n $(ulimit -n); data in $WORK"
echo "# uptime at start: $(uptime)"
echo "# edge: $EDGE_BIN --auth=none $EDGE_ARGS${SERVICE_ENV:+ (env $SERVICE_ENV)} (defaults: --io_threads=2 --max_send_queue=1024 --max_inflight_per_connection=64)"

if [[ " $MODES " == *" fanout "* ]]; then
  echo "## fanout: $SUBSCRIBERS subscribers on one ledger, $PUTS puts every $INTERVAL, a CAR uploaded per put"
  run fanout --mode=fanout --subscribers="$SUBSCRIBERS" --puts="$PUTS" --interval="$INTERVAL" \
    --car_per_put --run_id="-f$$"
  echo "# edge: slow-client disconnects $(metric 'kiln_edge_slow_client_disconnects_total'), pushes $(metric 'kiln_edge_pushes_total')"
  hist_n=$(metric 'kiln_edge_push_latency_seconds_count')
  echo "# edge push latency (change reaching the edge -> frame written): mean" \
    "$(awk -v s="$(metric 'kiln_edge_push_latency_seconds_sum')" -v n="$hist_n" 'BEGIN{printf "%.1f", n ? 1000*s/n : 0}') ms," \
    "<= 10 ms $(metric 'kiln_edge_push_latency_seconds_bucket[{]le="0.01"[}]')/$hist_n," \
    "<= 50 ms $(metric 'kiln_edge_push_latency_seconds_bucket[{]le="0.05"[}]')/$hist_n"
fi
if [[ " $MODES " == *" puts "* ]]; then
  echo "## puts: $WRITERS writers, closed loop ($INFLIGHT in flight each), ${DURATION}s"
  run puts_own --mode=puts --writers="$WRITERS" --inflight="$INFLIGHT" --duration="${DURATION}s" \
    --run_id="-o$$"
  run puts_one --mode=puts --writers="$WRITERS" --inflight="$INFLIGHT" --duration="${DURATION}s" \
    --ledgers=1 --run_id="-1$$"
  run puts_own_car --mode=puts --writers="$WRITERS" --inflight="$INFLIGHT" \
    --duration="${DURATION}s" --car_per_put --run_id="-c$$"
fi
if [[ " $MODES " == *" idle "* ]]; then
  for ledgers in 0 1; do
    label=idle_$ledgers
    desc=$([[ $ledgers == 0 ]] && echo "one ledger each" || echo "all on one ledger")
    echo "## idle: $CONNECTIONS connections, $desc, on a fresh edge"
    stop edge
    start_edge
    # Warm up (I/O threads, channels, allocator arenas), then take the baseline.
    "$LOAD" --edge="$EDGE" --mode=idle --connections=20 --ledgers="$ledgers" --hold=1s \
      --run_id="-w$ledgers$$" >/dev/null 2>&1 || true
    sleep 1
    rss0=$(rss_kib "${PID[edge]}")
    rm -f "$WORK/idle.ready"
    "$LOAD" --edge="$EDGE" --threads="$THREADS" --mode=idle --connections="$CONNECTIONS" \
      --ledgers="$ledgers" --hold="$(( HOLD < 3 ? 3 : HOLD ))s" --ready_file="$WORK/idle.ready" \
      --run_id="-i$ledgers$$" >"$WORK/idle.out" 2>"$WORK/idle.err" &
    load_pid=$!
    for _ in $(seq 1 1200); do [[ -f $WORK/idle.ready ]] && break; sleep 0.1; done
    sleep 1
    rss1=$(rss_kib "${PID[edge]}")
    ws=$(metric 'kiln_edge_connections[{]protocol="ws"[}]')
    wait "$load_pid" || true
    grep -v 'holding for' "$WORK/idle.err" >&2 || true
    line=$(cat "$WORK/idle.out")
    connected=$(sed -n 's/.* connected=\([0-9]*\).*/\1/p' <<<"$line")
    per=$(awk -v a="$rss0" -v b="$rss1" -v n="${connected:-0}" \
      'BEGIN{ if (n > 0) printf "%.1f", (b-a)/n; else print "nan" }')
    RESULT[$label]="$line rss_before_kib=$rss0 rss_held_kib=$rss1 edge_ws_connections=$ws kib_per_connection=$per"
    echo "${RESULT[$label]}"
  done
fi

echo "# uptime at end: $(uptime)"
echo "## targets (2-core machine)"
if [[ -n ${RESULT[fanout]:-} ]]; then
  echo "# fanout: $SUBSCRIBERS subscribers receive every push, p99 <= 50 ms from the writer's ack:" \
    "received $(field fanout received)/$(field fanout expected) (missing $(field fanout missing))," \
    "p99 $(field fanout p99_ms) ms (p50 $(field fanout p50_ms), max $(field fanout max_ms))"
fi
if [[ -n ${RESULT[puts_own]:-} ]]; then
  echo "# puts: >= 2000 acked meta puts/s over $WRITERS connections: one ledger each" \
    "$(field puts_own puts_per_sec)/s, all on one ledger $(field puts_one puts_per_sec)/s" \
    "(with a CAR upload per put: $(field puts_own_car puts_per_sec)/s)"
fi
if [[ -n ${RESULT[idle_0]:-} ]]; then
  echo "# idle: <= 64 KiB of edge memory per connection: one ledger each" \
    "$(field idle_0 kib_per_connection) KiB, all on one ledger $(field idle_1 kib_per_connection) KiB"
fi
