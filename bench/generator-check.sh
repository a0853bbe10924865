#!/usr/bin/env bash
# Is `pxeboot bench` the bottleneck? Runs the same storm once from one generator process and
# once from two processes with half the clients each, against the same server, in a private
# network namespace. If two generators beat one by much, one generator was saturated.
#
#   bench/generator-check.sh [SERVER] [CLIENTS] [extra bench flags…]
#   SERVER: pxeboot (default) | dnsmasq | tftpd-hpa;  CLIENTS default 200
# Prints one line per run and the ratio (aggregate MB/s = all bytes / the slower generator's wall).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/pxeboot-bench}
PXEBOOT=${PXEBOOT:-$REPO/dist/pxeboot}
BUN=${BUN:-$REPO/node_modules/.bin/bun}
SERVER=${1:-pxeboot}
CLIENTS=${2:-200}
shift $(( $# > 2 ? 2 : $# ))
FLAGS=("$@")
[ ${#FLAGS[@]} -gt 0 ] || FLAGS=(--blksize 1468)
ROOT=$WORK/root
OUT=$WORK/generator-check
export WORK PXEBOOT BUN SERVER CLIENTS ROOT OUT

if [ -z "${GEN_INSIDE:-}" ]; then
  [ -s "$ROOT/f4m" ] || { mkdir -p "$ROOT"; head -c $((4 << 20)) /dev/urandom >"$ROOT/f4m"; echo ready >"$ROOT/ready.txt"; }
  mkdir -p "$OUT"
  GEN_INSIDE=1 exec unshare -n "$0" "$SERVER" "$CLIENTS" "${FLAGS[@]}"
fi

ip link set lo up
case "$SERVER" in
  pxeboot) "$PXEBOOT" serve --root "$ROOT" --address 127.0.0.1 --port 69 --quiet >"$OUT/server.log" 2>&1 & ;;
  dnsmasq) dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$ROOT" \
    --tftp-max=10000 --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root --pid-file= \
    --log-facility=/dev/null & ;;
  tftpd-hpa) in.tftpd -L -u root -s "$ROOT" & ;;
  *) echo "unknown server $SERVER" >&2; exit 2 ;;
esac
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  "$PXEBOOT" get tftp://127.0.0.1/ready.txt -o /dev/null --timeout 0.1 --retries 1 >/dev/null 2>&1 && break
  sleep 0.1
done

bench() { "$PXEBOOT" bench tftp://127.0.0.1/f4m --clients "$1" --concurrency "$1" --local "$ROOT/f4m" --json "${FLAGS[@]}"; }
field() { "$BUN" -e "const s=JSON.parse(require('fs').readFileSync('$1','utf8')); console.log(s.$2)"; }

for round in 1 2; do
  bench "$CLIENTS" >"$OUT/one.json" || true
  half=$((CLIENTS / 2))
  bench "$half" >"$OUT/a.json" &
  a=$!
  bench $((CLIENTS - half)) >"$OUT/b.json" || true
  wait $a || true
  one=$(field "$OUT/one.json" mbPerSec)
  bytes=$(( $(field "$OUT/a.json" bytes) + $(field "$OUT/b.json" bytes) ))
  wall=$("$BUN" -e "console.log(Math.max($(field "$OUT/a.json" wallMs), $(field "$OUT/b.json" wallMs)))")
  two=$("$BUN" -e "console.log(Math.round($bytes / 1e6 / ($wall / 1000) * 10) / 10)")
  okone=$(field "$OUT/one.json" ok); oka=$(field "$OUT/a.json" ok); okb=$(field "$OUT/b.json" ok)
  echo "round $round, $SERVER, $CLIENTS clients, ${FLAGS[*]}: one generator $one MB/s ($okone ok); two generators $two MB/s ($((oka + okb)) ok); two ÷ one = $("$BUN" -e "console.log(($two / $one).toFixed(2))")"
done
