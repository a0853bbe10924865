#!/usr/bin/env bash
# HTTP boot speed: one 200 MB initrd from pxeboot's HTTP side (`serve --http`), from nginx (the
# anchor: what admins run beside a TFTP server today) and from pxeboot over TFTP (blksize 1468,
# windowsize 16), to one client and to 100 clients at once. Every server runs alone in a private
# network namespace (`unshare -n`, loopback only) and is started fresh for each row. Clients are C
# programs: curl for HTTP, atftp for TFTP (it speaks RFC 7440 windowsize).
#
#   bench/http-compare.sh               1-client rows best of 3, 100-client rows once
#   bench/http-compare.sh --quick       every row once
#   options: --no-results (print the table, leave bench/RESULTS.md alone), --clients "1 100",
#            --servers "pxeboot-http nginx" (leave out the slow TFTP rows)
#
# Needs root (apt-get, unshare -n). Not part of `npm test`. Results go into bench/RESULTS.md
# between the "http-compare" markers, with the machine they were measured on.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/pxeboot-http-bench}
PXEBOOT_GIVEN=${PXEBOOT:-}
PXEBOOT=${PXEBOOT:-$WORK/tree/dist/pxeboot}
BUN=${BUN:-$REPO/node_modules/.bin/bun}
ROUNDS=3
CLIENTS="1 100"
SERVERS="pxeboot-http nginx pxeboot-tftp"
WRITE_RESULTS=1
SIZE=$((200 * 1000 * 1000))
FILE=initrd-200m.img
ORIG_ARGS=("$@")

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1 ;;
    --no-results) WRITE_RESULTS=0 ;;
    --clients) CLIENTS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --inside) INSIDE=1 ;;
    *) echo "http-compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export WORK PXEBOOT ROUNDS CLIENTS SERVERS SIZE FILE

ROOT=$WORK/root
RESULTS=$WORK/results
LOGS=$WORK/logs
log() { printf '[http-compare] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- setup (outside the namespace)
setup() {
  [ "$(id -u)" = 0 ] || { echo "http-compare.sh: run as root (apt-get, unshare -n)" >&2; exit 1; }
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v atftp >/dev/null || missing+=(atftp)
  command -v curl >/dev/null || missing+=(curl)
  command -v ip >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ -z "$PXEBOOT_GIVEN" ]; then
    log "building pxeboot from the working tree into $WORK/tree"
    rm -rf "$WORK/tree" && mkdir -p "$WORK/tree"
    cp -r "$REPO/src" "$REPO/build.ts" "$REPO/package.json" "$REPO/tsconfig.json" "$WORK/tree/"
    ln -s "$REPO/node_modules" "$WORK/tree/node_modules"
    (cd "$WORK/tree" && "$BUN" build.ts >/dev/null)
  fi
  mkdir -p "$ROOT" "$RESULTS" "$LOGS"
  rm -f "$RESULTS"/*
  [ -s "$ROOT/$FILE" ] && [ "$(stat -c %s "$ROOT/$FILE")" = "$SIZE" ] || head -c "$SIZE" /dev/urandom >"$ROOT/$FILE"
  echo ready >"$ROOT/ready.txt"
  chmod -R a+rX "$ROOT"
  # The file is read from the page cache in every row, as a boot farm's hot initrd is.
  cat "$ROOT/$FILE" >/dev/null
  sha256sum "$ROOT/$FILE" | cut -d' ' -f1 >"$WORK/sha256"
}

machine() {
  local cpu
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  echo "Machine: $(nproc) × $cpu, $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r); load average at the start $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Versions: pxeboot $("$PXEBOOT" --version 2>/dev/null | tail -1 | awk '{print $NF}') (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)), nginx $(nginx -v 2>&1 | sed 's|.*/||'), curl $(curl --version | head -1 | awk '{print $2}'), atftp $(dpkg-query -W -f '${Version}' atftp 2>/dev/null)."
}

# ---------------------------------------------------------------- servers (inside the namespace)
SERVER_PID=
HTTP_PORT=8080

start_server() {
  local name=$1 out=$LOGS/$1.$2.log
  case "$name" in
    # One process each: pxeboot without --workers, nginx with one worker.
    pxeboot-http | pxeboot-tftp)
      "$PXEBOOT" serve --root "$ROOT" --address 127.0.0.1 --port 69 --http "127.0.0.1:$HTTP_PORT" --workers 1 \
        --per-client-max 0 --per-client-rate 0 --quiet >"$out" 2>&1 & ;;
    nginx)
      cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $out;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server { listen 127.0.0.1:$HTTP_PORT; root $ROOT; }
}
CONF
      nginx -c "$WORK/nginx.conf" >"$out" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/ready.txt" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not come up (see $out)"
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# CPU seconds the server has used so far: its process and every descendant (nginx's worker,
# pxeboot's boot-control process), utime + stime from /proc.
tree_pids() { local p=$1; echo "$p"; for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done; }
server_cpu() {
  local ticks=0 t
  for p in $(tree_pids "$SERVER_PID"); do
    t=$(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || echo 0)
    ticks=$((ticks + ${t:-0}))
  done
  echo "scale=3; $ticks / $(getconf CLK_TCK)" | bc
}

# One client's download to /dev/null; prints the bytes it got (atftp: the file's size on success).
fetch() {
  case "$1" in
    pxeboot-http | nginx) curl -s -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$HTTP_PORT/$FILE" ;;
    pxeboot-tftp) atftp --tftp-timeout 5 --option "blksize 1468" --option "windowsize 16" -g -r "$FILE" -l /dev/null 127.0.0.1 69 >/dev/null 2>&1 && echo "$SIZE" || echo 0 ;;
  esac
}

# A download checked against the sha256, outside the timed rows: proof each server sends the right bytes.
verify() {
  local got
  case "$1" in
    pxeboot-http | nginx) got=$(curl -s "http://127.0.0.1:$HTTP_PORT/$FILE" | sha256sum | cut -d' ' -f1) ;;
    pxeboot-tftp)
      atftp --tftp-timeout 5 --option "blksize 1468" --option "windowsize 16" -g -r "$FILE" -l "$WORK/tftp.out" 127.0.0.1 69 >/dev/null 2>&1 || true
      got=$(sha256sum "$WORK/tftp.out" | cut -d' ' -f1); rm -f "$WORK/tftp.out" ;;
  esac
  [ "$got" = "$(cat "$WORK/sha256")" ] || { log "$1 sent wrong bytes (sha256 $got)"; return 1; }
}

run_inside() {
  ip link set lo up
  trap stop_server EXIT
  for server in $SERVERS; do
    start_server "$server" verify && verify "$server"
    stop_server
  done
  for clients in $CLIENTS; do
    local rounds=$ROUNDS
    [ "$clients" -gt 1 ] && rounds=1
    for round in $(seq "$rounds"); do
      # Rounds outside servers: a burst of other load hits one round of each, not every round of one.
      for server in $SERVERS; do
        log "$server × $clients clients (round $round/$rounds)"
        start_server "$server" "$clients" || { stop_server; continue; }
        local t0 t1 ok c0 c1
        c0=$(server_cpu)
        t0=$(date +%s.%N)
        for _ in $(seq "$clients"); do fetch "$server" >>"$WORK/got.$server.$clients.$round" & done
        wait $(jobs -p | grep -v "^$SERVER_PID\$") 2>/dev/null || true
        t1=$(date +%s.%N)
        c1=$(server_cpu)
        ok=$(awk -v s="$SIZE" '$1 == s { n++ } END { print n + 0 }' "$WORK/got.$server.$clients.$round")
        rm -f "$WORK/got.$server.$clients.$round"
        printf '%s %s %s %s %s %s\n' "$server" "$clients" "$round" "$(echo "$t1 - $t0" | bc)" "$ok" "$(echo "$c1 - $c0" | bc)" >>"$RESULTS/rows"
        stop_server
      done
    done
  done
}

if [ "${INSIDE:-0}" = 1 ]; then
  run_inside
  exit 0
fi

# ---------------------------------------------------------------- table
table() {
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), \`bench/http-compare.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}\` (1-client rows best of $ROUNDS). $(cat "$WORK/machine")"
  echo
  echo "MB = 10^6 bytes; MB/s = all clients' bytes ÷ wall time from the first request to the last byte; CPU s/GB = the server's CPU time (its processes' utime + stime from /proc, over the row) per 10^9 bytes sent, in the same round as the MB/s shown. Every server's bytes checked once by sha256; every timed download by its size."
  echo
  echo "| clients × 200 MB | pxeboot HTTP | nginx (1 worker, sendfile) | pxeboot TFTP (blksize 1468, windowsize 16) | HTTP ÷ nginx (MB/s) | HTTP ÷ nginx (CPU/GB) | HTTP ÷ TFTP |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  awk -v size="$SIZE" '
    { key = $1 " " $2; mbs = ($5 * size / 1e6) / $4; gb = $5 * size / 1e9
      if (!(key in best) || mbs > best[key]) { best[key] = mbs; cpu[key] = (gb > 0 && NF >= 6 ? $6 / gb : 0) }
      if ($5 < $2) short[key] = short[key] " " ($2 - $5) " failed"
      seen[$2] = 1 }
    END {
      n = split("1 100", order, " ")
      for (c in seen) if (c != 1 && c != 100) order[++n] = c
      for (i = 1; i <= n; i++) { c = order[i]; if (!(c in seen)) continue
        h = best["pxeboot-http " c]; g = best["nginx " c]; t = best["pxeboot-tftp " c]
        hc = cpu["pxeboot-http " c]; gc = cpu["nginx " c]; tc = cpu["pxeboot-tftp " c]
        printf "| %s | %.0f MB/s, %.2f CPU s/GB%s | %.0f MB/s, %.2f CPU s/GB%s | %.0f MB/s, %.2f CPU s/GB%s | %.2f× | %.2f× | %.1f× |\n", c, h, hc, short["pxeboot-http " c], g, gc, short["nginx " c], t, tc, short["pxeboot-tftp " c], (g > 0 ? h / g : 0), (gc > 0 ? hc / gc : 0), (t > 0 ? h / t : 0) }
    }' "$RESULTS/rows"
}

write_results() {
  local file=$HERE/RESULTS.md begin="<!-- http-compare: begin (generated by bench/http-compare.sh; edit outside the markers) -->" end="<!-- http-compare: end -->"
  local block
  block=$(printf '%s\n%s\n%s\n' "$begin" "$(table)" "$end")
  if grep -qF "$begin" "$file"; then
    BLOCK="$block" awk -v b="$begin" -v e="$end" '$0 == b { print ENVIRON["BLOCK"]; skip = 1; next } $0 == e { skip = 0; next } !skip' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
  else
    printf '\n## HTTP boot: pxeboot serve --http vs nginx vs TFTP\n\n%s\n' "$block" >>"$file"
  fi
}

setup
machine >"$WORK/machine"
log "work dir $WORK; $(cat "$WORK/machine")"
unshare -n "$0" --inside "${ORIG_ARGS[@]}"
table
[ "$WRITE_RESULTS" = 1 ] && write_results
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
