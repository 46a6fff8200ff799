# Shell helpers shared by the tools/bench scripts (sourced; the caller defines log() and
# QUIET_WAIT).

# Sum of user+system CPU seconds of process $1 (fields 14 and 15 of /proc/PID/stat).
proc_cpu_secs() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
# "busy total" jiffies of the whole machine, from /proc/stat.
machine_jiffies() {
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
# Field $2 (key=value) of the load tool's output line $1.
field() {
  tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# Waits up to QUIET_WAIT seconds for the machine to be idle; warns when it never is.
wait_for_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) b0 t0 b1 t1 pct
  while :; do
    read -r b0 t0 < <(machine_jiffies)
    sleep 1
    read -r b1 t1 < <(machine_jiffies)
    pct=$((100 * (b1 - b0) / (t1 - t0 > 0 ? t1 - t0 : 1)))
    ((pct < 15)) && return 0
    if ((SECONDS >= deadline)); then
      log "warning: machine still ${pct}% busy with other work; figures will be low"
      return 0
    fi
  done
}
