#!/usr/bin/env bash
# Gives the servers of a real-client benchmark priority over the client processes, as servers on
# cores of their own would have (a benchmark helper, not a test). Until killed, every 0.3 s: every
# thread of the Kiln services and of tools/bench/ack-latency.mjs (which hosts the oracle and the
# timing proxy) at nice -5, every thread of the e2e client processes at 0. setpriority acts per
# thread on Linux, so each /proc/<pid>/task/<tid> is set. Needs root (negative nice).
#
#   tools/bench/server-priority.sh & P=$!
#   KILN_BUILD_DIR=$PWD/build SERVERS="kiln oracle" EACH=30 ROUNDS=2 node tools/bench/ack-latency.mjs
#   kill $P
set -u
set_all_threads() {
  local pid=$1 nice=$2 task
  for task in /proc/"$pid"/task/*; do renice -n "$nice" -p "${task##*/}" >/dev/null 2>&1; done
}
while true; do
  for pid in $(pgrep -f 'kiln-(blockstore|metadata|merge|edge)') $(pgrep -f 'ack-latency.mjs'); do
    set_all_threads "$pid" -5
  done
  for pid in $(pgrep -f 'e2e/lib/client.mjs'); do set_all_threads "$pid" 0; done
  sleep 0.3
done
