#!/usr/bin/env bash
# Merge -> metadata benchmark (a benchmark, not a test: it never fails on a missed target).
#
# For each backend in BACKENDS (default "rocksdb postgres", both in the same run) starts
# kiln-blockstore, the metadata service and kiln-merge on loopback in a temporary directory on the
# repository's filesystem, then runs kiln-meta-load twice:
#   1. commits: WRITERS writers over LEDGERS ledgers for DURATION seconds (real dag-cbor entries
#      whose CARs are in the block-store), reporting acknowledged commits/s;
#   2. watch: WATCHERS Watch streams on one ledger while one writer commits COMMITS entries, one
#      every INTERVAL, reporting the delay from each put's acknowledgement to each watcher's receipt.
# rocksdb: one kiln-metadata on durable RocksDB (sync on).
# postgres: a fresh PostgreSQL server (initdb into the temporary directory, default durability:
#   fsync and synchronous_commit on; as nobody when run as root), TWO kiln-metadata replicas on it,
#   merge balancing over both (commits); for the watch, the writer's merge talks to replica A and
#   the watchers to replica B, so every delivery crosses replicas (WATCHERS_PG watchers, default
#   100, INTERVAL_PG 10ms = 100 commits/s). Then the anchor: pgbench -N -c 16 -j 2 -T DURATION
#   (simple updates) on the same server.
# Builds nothing: run `ninja -C build kiln-blockstore kiln-metadata kiln-merge kiln-meta-load`.
# Environment: BUILD_DIR, BENCH_DIR, BACKENDS, DURATION (10), WRITERS (64), LEDGERS (16),
# WATCHERS (1000), COMMITS (200), INTERVAL (20ms), WATCHERS_PG (100), INTERVAL_PG (10ms),
# MERGE_ARGS, METADATA_ARGS (extra flags for the services).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-$BUILD_DIR/bench-tmp}
BACKENDS=${BACKENDS:-rocksdb postgres}
DURATION=${DURATION:-10}
WRITERS=${WRITERS:-64}
LEDGERS=${LEDGERS:-16}
WATCHERS=${WATCHERS:-1000}
COMMITS=${COMMITS:-200}
INTERVAL=${INTERVAL:-20ms}
WATCHERS_PG=${WATCHERS_PG:-100}
INTERVAL_PG=${INTERVAL_PG:-10ms}
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
chmod 755 "$WORK"
PIDS=()
PG_BIN=""
PG_AS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $PG_BIN && -d $WORK/pg ]]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

port() {  # name key -> port from the ready file
  grep "^$2=" "$WORK/$1.ready" | cut -d= -f2
}
start() {  # name binary args...
  local name=$1; shift
  rm -f "$WORK/$name.ready"
  "$@" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --ready_file="$WORK/$name.ready" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do [[ -f $WORK/$name.ready ]] && return 0; sleep 0.1; done
  echo "meta.sh: $name did not start; see $WORK/$name.log" >&2
  exit 1
}
stop_services() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
ok_commits() {  # metrics ports... -> sum of kiln_metadata_commits_total{result="ok"}
  local sum=0 n p
  for p in "$@"; do
    n=$(curl -s "127.0.0.1:$p/metrics" | awk '/^kiln_metadata_commits_total\{result="ok"\}/{print $2}')
    sum=$(awk -v a="$sum" -v b="${n:-0}" 'BEGIN{print a + b}')
  done
  echo "$sum"
}

# A PostgreSQL server in $WORK/pg on a Unix socket in $WORK/pgsock; database kiln.
start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -x $PG_BIN/initdb ]] || { echo "meta.sh: PostgreSQL server binaries not found" >&2; exit 2; }
  mkdir -p "$WORK/pg" "$WORK/pgsock"
  if [[ $(id -u) -eq 0 ]]; then
    PG_AS=(runuser -u nobody --)
    chown nobody "$WORK/pg" "$WORK/pgsock"
  fi
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U kiln -E UTF8 >"$WORK/initdb.log" 2>&1
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w \
    -o "-k $WORK/pgsock -c listen_addresses= -c max_connections=300 -c shared_buffers=256MB" \
    start >/dev/null
  "$PG_BIN/createdb" -h "$WORK/pgsock" -U kiln kiln
  "$PG_BIN/createdb" -h "$WORK/pgsock" -U kiln pgbench
}

run_rocksdb() {
  echo "## rocksdb: one kiln-metadata, RocksDB with sync=true"
  start blockstore "$BIN/blockstore/kiln-blockstore" --backend="rocksdb://$WORK/blocks"
  start metadata "$BIN/metadata/kiln-metadata" --backend="rocksdb://$WORK/meta" \
    --kek_file="$WORK/kek" $METADATA_ARGS
  local bs md mg
  bs=127.0.0.1:$(port blockstore grpc_port)
  md=127.0.0.1:$(port metadata grpc_port)
  start merge "$BIN/merge/kiln-merge" --blockstore_target="$bs" --metadata_target="$md" $MERGE_ARGS
  mg=127.0.0.1:$(port merge grpc_port)
  commits=$("$LOAD" --mode=commits --merge_target="$mg" --blockstore_target="$bs" \
    --writers="$WRITERS" --ledgers="$LEDGERS" --duration="${DURATION}s" --run_id=c)
  echo "$commits"
  echo "# metadata commits (after merge batching): $(ok_commits "$(port metadata metrics_port)")"
  watch=$("$LOAD" --mode=watch --merge_target="$mg" --blockstore_target="$bs" \
    --metadata_target="$md" --watchers="$WATCHERS" --commits="$COMMITS" --interval="$INTERVAL" \
    --run_id=w)
  echo "$watch"
  ROCKS_RATE=$(sed -n 's/.*commits_per_sec=\([0-9.]*\).*/\1/p' <<<"$commits")
  ROCKS_P99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$watch")
  stop_services
}

run_postgres() {
  echo "## postgres: two kiln-metadata replicas on one PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') (fsync, synchronous_commit on)"
  local url="postgres://kiln@/kiln?host=$WORK/pgsock&pool_size=32"
  start blockstore "$BIN/blockstore/kiln-blockstore" --backend="rocksdb://$WORK/blocks-pg"
  start metadata-a "$BIN/metadata/kiln-metadata" --backend="$url" --kek_file="$WORK/kek" \
    $METADATA_ARGS
  start metadata-b "$BIN/metadata/kiln-metadata" --backend="$url" --kek_file="$WORK/kek" \
    $METADATA_ARGS
  local bs mda mdb mg mga
  bs=127.0.0.1:$(port blockstore grpc_port)
  mda=127.0.0.1:$(port metadata-a grpc_port)
  mdb=127.0.0.1:$(port metadata-b grpc_port)
  start merge "$BIN/merge/kiln-merge" --blockstore_target="$bs" \
    --metadata_target="ipv4:$mda,$mdb" $MERGE_ARGS
  mg=127.0.0.1:$(port merge grpc_port)
  commits=$("$LOAD" --mode=commits --merge_target="$mg" --blockstore_target="$bs" \
    --writers="$WRITERS" --ledgers="$LEDGERS" --duration="${DURATION}s" --run_id=c)
  echo "$commits"
  echo "# metadata commits (after merge batching): $(ok_commits "$(port metadata-a metrics_port)" "$(port metadata-b metrics_port)") over both replicas"
  # Cross-replica watch: the writer's merge commits through replica A, the watchers are on B.
  start merge-a "$BIN/merge/kiln-merge" --blockstore_target="$bs" --metadata_target="$mda" \
    $MERGE_ARGS
  mga=127.0.0.1:$(port merge-a grpc_port)
  watch=$("$LOAD" --mode=watch --merge_target="$mga" --blockstore_target="$bs" \
    --metadata_target="$mdb" --watchers="$WATCHERS_PG" --commits="$COMMITS" \
    --interval="$INTERVAL_PG" --run_id=w)
  echo "$watch"
  PG_RATE=$(sed -n 's/.*commits_per_sec=\([0-9.]*\).*/\1/p' <<<"$commits")
  PG_P99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$watch")
  stop_services
  echo "## anchor: pgbench -N -c 16 -j 2 -T $DURATION on the same server"
  "$PG_BIN/pgbench" -h "$WORK/pgsock" -U kiln -i -s 16 -q pgbench >"$WORK/pgbench-init.log" 2>&1
  local bench
  bench=$("$PG_BIN/pgbench" -h "$WORK/pgsock" -U kiln -N -c 16 -j 2 -T "$DURATION" pgbench 2>&1)
  grep -E "^(tps|latency average|number of transactions actually processed)" <<<"$bench"
  PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$bench")
}

openssl rand -hex 32 >"$WORK/kek"
echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; data in $WORK"
ROCKS_RATE="" ROCKS_P99="" PG_RATE="" PG_P99="" PGBENCH_TPS=""
for backend in $BACKENDS; do
  case $backend in
    rocksdb) run_rocksdb ;;
    postgres) start_postgres; run_postgres ;;
    *) echo "meta.sh: unknown backend $backend (rocksdb, postgres)" >&2; exit 2 ;;
  esac
done
if [[ -n $ROCKS_RATE ]]; then
  echo "# target: >= 3000 durable commits/s with $WRITERS writers over $LEDGERS ledgers (RocksDB): got $ROCKS_RATE"
  echo "# target: push p99 <= 10 ms to $WATCHERS watchers from acknowledgement (RocksDB): got $ROCKS_P99 ms"
fi
if [[ -n $PG_RATE ]]; then
  ratio=$(awk -v a="$PG_RATE" -v b="${PGBENCH_TPS:-0}" 'BEGIN{if (b > 0) printf "%.2f", a / b; else print "n/a"}')
  echo "# target: PostgreSQL commits/s >= 0.5x pgbench -N tps: got $PG_RATE vs $PGBENCH_TPS (${ratio}x)"
  echo "# target: cross-replica watch p99 <= 20 ms at 100 commits/s: got $PG_P99 ms"
fi
