#!/usr/bin/env bash
# How pxeboot's storm capacity scales with --workers on a many-core host: the same storm against
# `serve --workers N` for N in $WORKERS, driven by the C generator (../shared/tools/tftpstorm.c)
# split over $GENERATORS processes so the generator is never the limit, on loopback. Prints one
# row per run: MB/s, p50/p99 completion, failed clients, server CPU seconds per GB (all worker
# processes together, from /proc), peak RSS of all workers together, and how busy the generators
# were (near 100% means the generator, not the server, was the limit).
#
#   bench/workers-scaling.sh                        # defaults below
#   PXEBOOT=/path/pxeboot TFTPSTORM=/path/tftpstorm WORKERS="1 2 4 8" bench/workers-scaling.sh
#
# Needs: the compiled binary, a built tftpstorm (gcc -O2 -o tftpstorm tftpstorm.c), root or a
# free high port. Every run stops by itself (tftpstorm --deadline; the server is killed after).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PXEBOOT=${PXEBOOT:-$HERE/../dist/pxeboot}
TFTPSTORM=${TFTPSTORM:-tftpstorm}
WORKERS=${WORKERS:-"1 2 4 8 16"}
# e.g. SERVE_FLAGS="--user root" where the host has neither a tftp nor a nobody user
GENERATORS=${GENERATORS:-4}
PORT=${PORT:-16969}
WORK=${WORK:-/tmp/pxeboot-workers}
# scenario: name clients size-MiB extra-tftpstorm-flags
SCENARIOS=${SCENARIOS:-"lockstep-1000x4M 1000 4 -b1468
window4-1000x4M 1000 4 -b1468 -w4
storm-10000x1M 10000 1 -b1468"}
DEADLINE=${DEADLINE:-120}

mkdir -p "$WORK/root"
chmod 755 "$WORK" "$WORK/root"
for mib in 1 4; do
  [ -f "$WORK/root/f${mib}m" ] || head -c $((mib * 1048576)) /dev/urandom >"$WORK/root/f${mib}m"
  chmod 644 "$WORK/root/f${mib}m"
done

# utime+stime (clock ticks) and RSS (pages) summed over every process whose command line names $WORK/root.
server_stats() {
  local ticks=0 rss=0 dir stat
  # /proc directly: no procps needed on a bare benchmark host.
  for dir in /proc/[0-9]*; do
    { tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null | grep -q -- "serve $WORK/root" || continue
    stat=$(cat "$dir/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    set -- $stat
    ticks=$((ticks + ${12} + ${13}))
    rss=$((rss + ${22}))
  done
  echo "$ticks $rss"
}

hz=$(getconf CLK_TCK)
page=$(getconf PAGESIZE)
printf '%-18s %7s %9s %8s %8s %7s %11s %9s %8s\n' scenario workers MB/s p50_s p99_s failed cpu_s/GB rss_MiB gen_busy
while read -r name clients mib extra; do
  [ -n "$name" ] || continue
  for w in $WORKERS; do
    log="$WORK/server-$name-$w.log"
    "$PXEBOOT" serve "$WORK/root" --address 127.0.0.1 --port "$PORT" --workers "$w" --max-transfers 20000 \
      --queue-max 60000 --quiet ${SERVE_FLAGS:-} >"$log" 2>&1 &
    spid=$!
    # Ready when it answers (up to 10 s): a short fetch.
    for _ in $(seq 1 100); do
      "$TFTPSTORM" -q -n 1 -D 2 127.0.0.1 "$PORT" "f1m" -e 1048576 >/dev/null 2>&1 && break
      sleep 0.1
    done
    if ! kill -0 "$spid" 2>/dev/null; then
      echo "server did not start ($name, --workers $w):" >&2
      cat "$log" >&2
      continue
    fi
    read -r t0 _ < <(server_stats)
    peak=0
    start=$(date +%s.%N)
    per=$((clients / GENERATORS))
    pids=()
    for g in $(seq 1 "$GENERATORS"); do
      # shellcheck disable=SC2086
      "$TFTPSTORM" -q --spread -n "$per" -c "$per" $extra -l "$WORK/root/f${mib}m" -D "$DEADLINE" \
        127.0.0.1 "$PORT" "f${mib}m" >"$WORK/gen-$g.out" 2>&1 &
      pids+=($!)
    done
    while kill -0 "${pids[@]}" 2>/dev/null; do
      read -r _ r < <(server_stats)
      [ "$r" -gt "$peak" ] && peak=$r
      sleep 0.5
    done
    wait "${pids[@]}" 2>/dev/null
    end=$(date +%s.%N)
    read -r t1 _ < <(server_stats)
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    # Each generator prints one RESULT key=value line; sum the counts, take the worst percentiles.
    ok=0 failed=0 p50=0 p99=0 gcpu=0
    for g in $(seq 1 "$GENERATORS"); do
      line=$(grep '^RESULT' "$WORK/gen-$g.out" | tail -1)
      for kv in $line; do
        case "$kv" in
          ok=*) ok=$((ok + ${kv#ok=})) ;;
          failed=*) failed=$((failed + ${kv#failed=})) ;;
          p50_s=*) p50=$(awk -v a="$p50" -v b="${kv#p50_s=}" 'BEGIN{print (b>a)?b:a}') ;;
          p99_s=*) p99=$(awk -v a="$p99" -v b="${kv#p99_s=}" 'BEGIN{print (b>a)?b:a}') ;;
          gen_cpu_s=*) gcpu=$(awk -v a="$gcpu" -v b="${kv#gen_cpu_s=}" 'BEGIN{print a+b}') ;;
        esac
      done
    done
    awk -v n="$name" -v w="$w" -v ok="$ok" -v mib="$mib" -v s="$start" -v e="$end" -v p50="$p50" -v p99="$p99" \
      -v f="$failed" -v t=$((t1 - t0)) -v hz="$hz" -v rss="$peak" -v page="$page" -v gc="$gcpu" -v g="$GENERATORS" 'BEGIN {
        secs = e - s; bytes = ok * mib * 1048576;
        # gen_busy: generator CPU over wall time, per generator (100% = one saturated core each).
        printf "%-18s %7d %9.0f %8.2f %8.2f %7d %11.2f %9.0f %7.0f%%\n", n, w, bytes / 1e6 / secs, p50, p99, f,
          (bytes > 0 ? (t / hz) / (bytes / 1e9) : 0), rss * page / 1048576, 100 * gc / (secs * g) }'
  done
done <<<"$SCENARIOS"
