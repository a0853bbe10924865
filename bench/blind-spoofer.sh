#!/usr/bin/env bash
# The blind spoofer (bench/blind-spoofer.ts) against pxeboot, tftpd-hpa and dnsmasq, each server
# alone in a private network namespace (loopback only, port 69), started fresh for every round;
# rounds interleave the servers.
#
#   sudo bench/blind-spoofer.sh [ROUNDS]       default 1 round of 5 blind trials + 1 oracle per style
#   environment: SERVERS ("pxeboot tftpd-hpa dnsmasq"; "pxeboot-old" with PXEBOOT_OLD=binary),
#                PXEBOOT (default dist/pxeboot), TRIALS (5), BENCH_WORK (/tmp/pxeboot-spoof)
# Prints the JSON lines of every trial and summary; the summaries also go to $BENCH_WORK/summary.jsonl.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROUNDS=${1:-1}
WORK=${BENCH_WORK:-/tmp/pxeboot-spoof}
PXEBOOT=${PXEBOOT:-$REPO/dist/pxeboot}
BUN=${BUN:-$REPO/node_modules/.bin/bun}
TRIALS=${TRIALS:-5}
SERVERS=${SERVERS:-pxeboot tftpd-hpa dnsmasq}
[ "$(id -u)" = 0 ] || { echo "blind-spoofer.sh: run as root (unshare -n, port 69)" >&2; exit 1; }

if [ "${1:-}" = --inside ]; then
  name=$2
  ip link set lo up
  case "$name" in
    pxeboot) "$PXEBOOT" serve --root "$WORK/root" --address 127.0.0.1 --port 69 --quiet --workers 1 & ;;
    pxeboot-old) "$PXEBOOT_OLD" serve --root "$WORK/root" --address 127.0.0.1 --port 69 --quiet --workers 1 & ;;
    tftpd-hpa) /usr/sbin/in.tftpd -L -u root -s "$WORK/root" & ;;
    dnsmasq) dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$WORK/root" \
      --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root --pid-file= --log-facility=/dev/null & ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  pid=$!
  sleep 1.5
  "$BUN" "$HERE/blind-spoofer.ts" --port 69 --trials "$TRIALS" --label "$name" || true
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  exit 0
fi

mkdir -p "$WORK/root"
[ -f "$WORK/root/big" ] || head -c $((16 * 1024 * 1024)) /dev/urandom > "$WORK/root/big"
chmod -R a+rX "$WORK"
: > "$WORK/summary.jsonl"
echo "# $(date -u +%FT%TZ) nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), pxeboot $(cd "$REPO" && git rev-parse --short HEAD)"
for round in $(seq 1 "$ROUNDS"); do
  for s in $SERVERS; do
    unshare -n env WORK="$WORK" PXEBOOT="$PXEBOOT" PXEBOOT_OLD="${PXEBOOT_OLD:-}" BUN="$BUN" TRIALS="$TRIALS" \
      bash "$0" --inside "$s" | tee -a "$WORK/all.jsonl" | grep --line-buffered '"summary"' | tee -a "$WORK/summary.jsonl"
  done
done
