#!/usr/bin/env bash
# How pxeboot's storm capacity scales with --workers on a many-core host: the same storm against
# `serve --workers N` for N in $WORKERS, driven by the C generator (../shared/tools/tftpstorm.c)
# split over $GENERATORS processes so the generator is never the limit, on loopback. Prints one
# row per run: MB/s, p50/p99 completion, failed clients, server CPU seconds per GB (all worker
# processes together), peak RSS of all workers together, and how busy the generators
# were (near 100% means the generator, not the server, was the limit).
#
#   bench/workers-scaling.sh                        # defaults below
#   PXEBOOT=/path/pxeboot TFTPSTORM=/path/tftpstorm WORKERS="1 2 4 8" bench/workers-scaling.sh
#
# Needs: the compiled binary, gcc (or TFTPSTORM=a built tftpstorm), root or a free high port.
# Every run stops by itself (tftpstorm --deadline; the server is killed after). Server CPU comes
# from a cgroup v2 of its own when /sys/fs/cgroup allows one, else /proc (bench/lib.sh).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
PXEBOOT=${PXEBOOT:-$HERE/../dist/pxeboot}
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
# TFTPSTORM: a built generator; default: compiled with gcc -O2 into $WORK.
TFTPSTORM=$(bench_tftpstorm "$WORK") || exit 1

mkdir -p "$WORK/root"
chmod 755 "$WORK" "$WORK/root"
for mib in 1 4; do
  [ -f "$WORK/root/f${mib}m" ] || head -c $((mib * 1048576)) /dev/urandom >"$WORK/root/f${mib}m"
  chmod 644 "$WORK/root/f${mib}m"
done
trap srv_stop EXIT

printf '%-18s %7s %9s %8s %8s %7s %11s %9s %8s\n' scenario workers MB/s p50_s p99_s failed cpu_s/GB rss_MiB gen_busy
while read -r name clients mib extra; do
  [ -n "$name" ] || continue
  for w in $WORKERS; do
    log="$WORK/server-$name-$w.log"
    srv_start "workers-$w" "$log" "$PXEBOOT" serve "$WORK/root" --address 127.0.0.1 --port "$PORT" --workers "$w" \
      --max-transfers 20000 --queue-max 60000 --quiet ${SERVE_FLAGS:-}
    if ! srv_wait_ready "$TFTPSTORM" "$PORT" f1m "$WORK/root/f1m"; then
      echo "server did not start ($name, --workers $w):" >&2
      cat "$log" >&2
      srv_stop
      continue
    fi
    # shellcheck disable=SC2086 # extra is a word list on purpose
    line=$(bench_storm "$WORK/gen-$name-$w" "$GENERATORS" "$clients" "$TFTPSTORM" $extra -l "$WORK/root/f${mib}m" \
      -D "$DEADLINE" 127.0.0.1 "$PORT" "f${mib}m")
    srv_stop
    if [ -n "$(kv error "$line")" ]; then
      echo "$name, --workers $w: $line (see $WORK/gen-$name-$w.gen*)" >&2
      continue
    fi
    # gen_busy: generator CPU over wall time, per generator (100% = one saturated core each).
    # p50/p99: with several generators, the worst generator's (an upper bound).
    awk -v n="$name" -v w="$w" -v mbps="$(kv mbps "$line")" -v wall="$(kv wall_s "$line")" -v p50="$(kv p50_s "$line")" \
      -v p99="$(kv p99_s "$line")" -v f="$(kv failed "$line")" -v cpu="$(kv srv_cpu_s "$line")" \
      -v rss="$(kv peak_rss_kib "$line")" -v gc="$(kv gen_cpu_s "$line")" -v g="$(kv gens "$line")" 'BEGIN {
        gb = mbps * wall / 1000;
        printf "%-18s %7d %9.0f %8.2f %8.2f %7d %11.2f %9.0f %7.0f%%\n", n, w, mbps, p50, p99, f,
          (gb > 0 ? cpu / gb : 0), rss / 1024, (wall > 0 ? 100 * gc / (wall * g) : 0) }'
  done
done <<<"$SCENARIOS"
