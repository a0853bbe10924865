# Helpers shared by bench/compare.sh and bench/workers-scaling.sh: build the C load generator,
# run a server in a cgroup of its own (or track its process tree), read its CPU time and memory,
# and run one storm from one or more generator processes. Source it from bash:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Needs only bash, awk, coreutils and /proc (the lent benchmark machines have no Bun).

# ---------------------------------------------------------------- the load generator
# bench_tftpstorm WORK: prints the path of a tftpstorm binary, compiled with gcc -O2 from
# ../shared/tools/tftpstorm.c (or $TFTPSTORM_SRC) into WORK when missing or older than its source.
# $TFTPSTORM, when set, is used as it is (e.g. a static build carried to another machine).
bench_tftpstorm() {
  local work=$1 here src bin
  if [ -n "${TFTPSTORM:-}" ]; then
    command -v "$TFTPSTORM" || { echo "bench: TFTPSTORM=$TFTPSTORM is not executable" >&2; return 1; }
    return 0
  fi
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  src=${TFTPSTORM_SRC:-$here/../../shared/tools/tftpstorm.c}
  bin=$work/tftpstorm
  [ -f "$src" ] || { echo "bench: no generator source at $src (set TFTPSTORM_SRC or TFTPSTORM)" >&2; return 1; }
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    mkdir -p "$work"
    gcc -O2 -o "$bin" "$src" || { echo "bench: gcc -O2 $src failed" >&2; return 1; }
  fi
  echo "$bin"
}

# ---------------------------------------------------------------- the server's processes
# A server is started in a cgroup v2 child of its own when one can be made (its CPU time then
# includes every worker and forked child, exited ones too, from cpu.stat); otherwise its processes
# are its main process and that process's descendants, read from /proc (a reaped child's time
# still counts: it is in the parent's cutime/cstime).
SRV_PID=
SRV_CG=
SRV_CPU_SEEN=

# The writable cgroup v2 hierarchy: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a
# hybrid one (cpu.stat works there even with the controllers bound to v1). Empty when neither.
bench_cgroup_base() {
  local base
  for base in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    [ -f "$base/cgroup.procs" ] && [ -f "$base/cgroup.subtree_control" ] || continue
    [ -w "$base" ] || continue
    echo "$base"
    return 0
  done
}

# srv_start NAME LOG CMD…: runs CMD in the background (stdout and stderr to LOG), in a fresh
# cgroup named after NAME when possible; sets SRV_PID (CMD's pid) and SRV_CG (the cgroup or empty).
srv_start() {
  local name=$1 log=$2 base
  shift 2
  SRV_CG=
  SRV_CPU_SEEN=$(mktemp "${TMPDIR:-/tmp}/pxeboot-bench-cpu.XXXXXX")
  base=$(bench_cgroup_base)
  if [ -n "$base" ] && [ "${BENCH_NO_CGROUP:-0}" != 1 ]; then
    local cg=$base/pxeboot-bench-$name-$$
    [ -d "$cg" ] && rmdir "$cg" 2>/dev/null
    mkdir "$cg" 2>/dev/null && SRV_CG=$cg
  fi
  if [ -n "$SRV_CG" ]; then
    # The shell joins the cgroup, then becomes the server: SRV_PID is the server itself, and every
    # process it starts is born inside the cgroup.
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$SRV_CG" "$@" >"$log" 2>&1 &
  else
    "$@" >"$log" 2>&1 &
  fi
  SRV_PID=$!
}

# How CPU time was read, for the results: "cgroup" or "proc".
srv_cpu_source() { [ -n "$SRV_CG" ] && echo cgroup || echo proc; }

# The server's live processes, one pid a line.
srv_pids() {
  [ -n "$SRV_PID" ] || return 0
  if [ -n "$SRV_CG" ]; then
    cat "$SRV_CG/cgroup.procs" 2>/dev/null
    return 0
  fi
  # Descendants of SRV_PID from the ppid field of every /proc/PID/stat (the name may hold spaces).
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$SRV_PID" '
    { line = $0; pid = $1; sub(/.*\) /, "", line); split(line, f, " "); parent[pid] = f[2]; all[pid] = 1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) { changed = 0; for (p in all) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      for (p in keep) if (p in all) print p
    }'
}

# CPU time the server has used so far, in microseconds. Without a cgroup, every process of the
# server seen so far counts with the largest time it was seen with (kept in SRV_CPU_SEEN, keyed by
# pid and start time), so a forked child that has exited still counts up to its last sample
# (tftpd-hpa ignores SIGCHLD, so its children's time never reaches its cutime); bench_storm
# samples every 0.25 s, and a child that lives shorter than that is missed.
srv_cpu_usec() {
  if [ -n "$SRV_CG" ]; then
    awk '$1 == "usage_usec" { print $2; found = 1 } END { if (!found) print 0 }' "$SRV_CG/cpu.stat" 2>/dev/null
    return 0
  fi
  local hz files
  hz=$(getconf CLK_TCK)
  files=$(srv_pids | sed 's|^\(.*\)$|/proc/\1/stat|')
  touch "$SRV_CPU_SEEN"
  # utime stime cutime cstime are fields 14-17 and starttime 22; counted after the ") " that ends
  # the name.
  # shellcheck disable=SC2086 # one path per word
  { [ -z "$files" ] || cat $files 2>/dev/null; } | awk -v hz="$hz" -v seen="$SRV_CPU_SEEN" '
    BEGIN { while ((getline l < seen) > 0) { split(l, a, " "); t[a[1]] = a[2] } close(seen) }
    { pid = $1; sub(/.*\) /, ""); split($0, f, " "); k = pid "@" f[20]; v = f[12] + f[13] + f[14] + f[15]; if (v > t[k]) t[k] = v }
    END { for (k in t) { print k, t[k] > seen; sum += t[k] } printf "%.0f\n", sum * 1e6 / hz }'
}

# Resident memory of all the server's processes together now, KiB.
srv_rss_kib() {
  local files
  files=$(srv_pids | sed 's|^\(.*\)$|/proc/\1/status|')
  [ -n "$files" ] || { echo 0; return 0; }
  # shellcheck disable=SC2086 # one path per word
  cat $files 2>/dev/null | awk '$1 == "VmRSS:" { s += $2 } END { print s + 0 }'
}

srv_alive() { [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; }

# Stops the server and every process of it (tftpd-hpa's forks, pxeboot's workers), by pid.
srv_stop() {
  [ -n "$SRV_PID" ] || return 0
  local pids
  pids=$(srv_pids)
  # shellcheck disable=SC2086
  kill $SRV_PID $pids 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  pids=$(srv_pids)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  kill -9 "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  if [ -n "$SRV_CG" ]; then
    for _ in $(seq 30); do rmdir "$SRV_CG" 2>/dev/null && break; sleep 0.1; done
  fi
  rm -f "$SRV_CPU_SEEN"
  SRV_PID=
  SRV_CG=
  SRV_CPU_SEEN=
}

# srv_wait_ready TFTPSTORM PORT FILE LOCAL: up to 10 s for the server to serve FILE (a short fetch
# by the same generator); fails early when the server exits.
srv_wait_ready() {
  local gen=$1 port=$2 file=$3 local=$4
  for _ in $(seq 100); do
    "$gen" -q -n 1 -r 100 -R 2 -D 1 -l "$local" 127.0.0.1 "$port" "$file" >/dev/null 2>&1 && return 0
    srv_alive || return 1
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- one storm
# bench_storm OUT GENERATORS CLIENTS CMD…: CLIENTS clients, all at once, split over GENERATORS
# tftpstorm processes (each with --spread source addresses: one address per client, so the
# server's per-address limits see a rack of machines, not one host). CMD is the generator's
# command line (a taskset prefix allowed) ending with HOST PORT FILE; --spread -n -c are appended
# (tftpstorm's getopt_long takes options after the operands). Not -q: the DATA count is needed. While they run, the server's memory is sampled every
# 0.25 s; its CPU time is read before and after. Writes the generators' output to OUT.gen<i> and
# prints one summary line of key=value pairs (see bench_summarize).
bench_storm() {
  local out=$1 gens=$2 clients=$3
  shift 3
  local per=$(((clients + gens - 1) / gens)) left=$clients n i cpu0 cpu1 peak=0 rss pids=()
  rm -f "$out".gen*
  cpu0=$(srv_cpu_usec)
  for i in $(seq 1 "$gens"); do
    n=$((left < per ? left : per))
    [ "$n" -gt 0 ] || break
    left=$((left - n))
    "$@" --spread -n "$n" -c "$n" >"$out.gen$i" 2>&1 &
    pids+=($!)
  done
  while kill -0 "${pids[@]}" 2>/dev/null; do
    [ -n "$SRV_CG" ] || srv_cpu_usec >/dev/null
    rss=$(srv_rss_kib)
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.25
  done
  wait "${pids[@]}" 2>/dev/null
  cpu1=$(srv_cpu_usec)
  rss=$(srv_rss_kib)
  [ "$rss" -gt "$peak" ] && peak=$rss
  bench_summarize "$((cpu1 - cpu0))" "$peak" "$out".gen*
}

# bench_summarize SERVER_CPU_USEC PEAK_RSS_KIB GENERATOR_OUTPUTS…: one line of key=value:
#   ok failed wall_s (the slowest generator's) mbps (all verified bytes ÷ wall_s) p50_s p99_s max_s
#   (exact with one generator; with several, the worst generator's percentile: an upper bound)
#   retransmits (client side, RRQs included) data (DATA datagrams the clients received) blksize
#   window (largest granted) gen_cpu_s gens srv_cpu_s peak_rss_kib
bench_summarize() {
  local cpu=$1 peak=$2
  shift 2
  awk -v cpu="$cpu" -v peak="$peak" '
    FNR == 1 { gens++ }
    /^  packets   :/ { for (i = 1; i <= NF; i++) if ($i == "(DATA") { v = $(i + 1); sub(/\)/, "", v); data += v } }
    /^RESULT / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
      ok += r["ok"]; failed += r["failed"]; retr += r["retransmits"]; gcpu += r["gen_cpu_s"]
      bytes += r["MBps"] * r["wall_s"]
      if (r["wall_s"] > wall) wall = r["wall_s"]
      if (r["p50_s"] > p50) p50 = r["p50_s"]
      if (r["p99_s"] > p99) p99 = r["p99_s"]
      if (r["max_s"] > mx) mx = r["max_s"]
      if (r["blksize"] > blk) blk = r["blksize"]
      if (r["window"] > win) win = r["window"]
      results++
    }
    END {
      if (results < gens) { printf "error=generator_without_RESULT gens=%d results=%d\n", gens, results; exit }
      printf "ok=%d failed=%d wall_s=%.3f mbps=%.2f p50_s=%.4f p99_s=%.4f max_s=%.4f retransmits=%d data=%d blksize=%d window=%d gen_cpu_s=%.2f gens=%d srv_cpu_s=%.3f peak_rss_kib=%d\n",
        ok, failed, wall, (wall > 0 ? bytes / wall : 0), p50, p99, mx, retr, data, blk, win, gcpu, gens, cpu / 1e6, peak
    }' "$@"
}

# kv KEY LINE: the value of KEY in a key=value line (empty when absent).
kv() {
  local k=$1 w
  for w in $2; do
    case "$w" in "$k"=*) echo "${w#*=}"; return 0 ;; esac
  done
}
