#!/usr/bin/env bash
# CPU time and peak memory of compiling each of the edge's Beast translation units, one after the
# other and bypassing ccache (a build-cost measurement, not a test). Needs a configured build dir.
#   tools/bench/edge_tu_cpu.sh [BUILD_DIR]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=$(cd "${1:-$REPO/build}" && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cd "$BUILD_DIR"
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for o in $(ninja -t targets all | grep -oE 'services/edge/CMakeFiles/kiln_edge_[a-z]+\.dir/(http_server|http_session_plain|http_session_tls|ws_session_plain|ws_session_tls|routes|blob_endpoint|http_reply)\.cc\.o' | sort -u); do
  # The compile command without ccache, dependency files or the real output.
  cmd=$(ninja -t commands "$o" | tail -1 | sed -E "s#^.*ccache ##; s# -MD -MT [^ ]+ -MF [^ ]+ # #; s# -o [^ ]+ # -o $OUT/tu.o #")
  /usr/bin/time -f "$o cpu_s=%U+%S wall_s=%e max_rss_kb=%M" bash -c "$cmd" 2>&1 | tail -1
done
