#!/usr/bin/env bash
# pxeboot against tftpd-hpa, atftpd and dnsmasq, side by side, with the same load generator
# (`pxeboot bench`), each server alone in a private network namespace (loopback only).
#
#   bench/compare.sh --quick            200 clients per storm, one round (a few minutes)
#   bench/compare.sh                    1000 clients per storm, single-client rows best of 3
#   bench/compare.sh --huge             also 10,000 clients × 1 MiB (skip tftpd-hpa there: it forks a
#                                       process per client, ~2.6 MiB each)
#   options: --servers "pxeboot dnsmasq" (subset), --scenarios "storm probes" (subset),
#            --no-results (print the table, leave bench/RESULTS.md alone)
#
# Needs root (apt-get, unshare -n, port 69 inside the namespace). Not part of `npm test`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/pxeboot-bench}
# The binary under test: by default built here from the working tree (a snapshot in $WORK, so a
# dist/pxeboot that tests are running is never overwritten); set PXEBOOT to use another one.
PXEBOOT_GIVEN=${PXEBOOT:-}
PXEBOOT=${PXEBOOT:-$WORK/tree/dist/pxeboot}
BUN=${BUN:-$REPO/node_modules/.bin/bun}
MODE=full
HUGE=0
WRITE_RESULTS=1
SERVERS="pxeboot tftpd-hpa atftpd dnsmasq"
SCENARIOS="lockstep big win16 storm storm-w4 loss probes"
ORIG_ARGS=("$@")

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --huge) HUGE=1 ;;
    --servers) SERVERS=$2; PARTIAL=1; shift ;;
    --scenarios) SCENARIOS=$2; PARTIAL=1; shift ;;
    --no-results) WRITE_RESULTS=0 ;;
    --inside) INSIDE=1 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$HUGE" = 1 ] && SCENARIOS="$SCENARIOS huge"
# A run of a subset gets its own block in RESULTS.md instead of replacing the complete run's.
LABEL=$MODE
[ "${PARTIAL:-0}" = 1 ] && LABEL="$MODE, only $SCENARIOS × $SERVERS"
if [ "$MODE" = quick ]; then STORM=200; ROUNDS=1; DURATION_MAX=120; else STORM=1000; ROUNDS=3; DURATION_MAX=300; fi
export WORK PXEBOOT BUN MODE LABEL HUGE WRITE_RESULTS SERVERS SCENARIOS STORM ROUNDS DURATION_MAX

ATFTPD=$WORK/atftpd/usr/sbin/atftpd
ROOT=$WORK/root
RESULTS=$WORK/results
LOGS=$WORK/logs

log() { printf '[compare] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- setup (outside the namespace)
setup() {
  [ "$(id -u)" = 0 ] || { echo "compare.sh: run as root (apt-get, unshare -n, port 69)" >&2; exit 1; }
  local missing=()
  command -v in.tftpd >/dev/null || [ -x /usr/sbin/in.tftpd ] || missing+=(tftpd-hpa)
  command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
  command -v taskset >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # atftpd conflicts with tftpd-hpa as a package: unpack it into a scratch directory instead.
  if [ ! -x "$ATFTPD" ]; then
    log "fetching atftpd (apt-get download + dpkg-deb -x)"
    mkdir -p "$WORK/atftpd-deb"
    (cd "$WORK/atftpd-deb" && apt-get download atftpd >/dev/null 2>&1)
    dpkg-deb -x "$WORK"/atftpd-deb/atftpd_*.deb "$WORK/atftpd"
  fi
  if [ -z "$PXEBOOT_GIVEN" ]; then
    log "building pxeboot from the working tree into $WORK/tree"
    rm -rf "$WORK/tree" && mkdir -p "$WORK/tree"
    cp -r "$REPO/src" "$REPO/build.ts" "$REPO/package.json" "$REPO/tsconfig.json" "$WORK/tree/"
    ln -s "$REPO/node_modules" "$WORK/tree/node_modules"
    (cd "$WORK/tree" && "$BUN" build.ts >/dev/null)
  fi
  mkdir -p "$ROOT" "$RESULTS" "$LOGS"
  rm -f "$RESULTS"/*.json
  for spec in f32m:32 f4m:4 f1m:1; do
    local name=${spec%%:*} mib=${spec##*:}
    [ -s "$ROOT/$name" ] && [ "$(stat -c %s "$ROOT/$name")" = $((mib << 20)) ] ||
      head -c $((mib << 20)) /dev/urandom >"$ROOT/$name"
  done
  echo ready >"$ROOT/ready.txt"
  chmod -R a+rX "$ROOT"
  versions >"$RESULTS/meta.json"
}

versions() {
  local cpu
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  printf '{"date":"%s","load":"%s","mode":"%s","label":"%s","storm":%s,"rounds":%s,"nproc":%s,"cpu":"%s","kernel":"%s","os":"%s","versions":{' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$MODE" "$LABEL" "$STORM" "$ROUNDS" "$(nproc)" "$cpu" "$(uname -r)" \
    "$(. /etc/os-release && echo "$PRETTY_NAME")"
  printf '"pxeboot":"%s (git %s%s)",' "$("$PXEBOOT" --version 2>/dev/null | tail -1)" \
    "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)" "$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ", modified")"
  printf '"tftpd-hpa":"%s",' "$(dpkg-query -W -f '${Version}' tftpd-hpa 2>/dev/null)"
  printf '"atftpd":"%s",' "$(basename "$WORK"/atftpd-deb/atftpd_*.deb .deb | cut -d_ -f2)"
  printf '"dnsmasq":"%s"}}\n' "$(dnsmasq --version | head -1 | awk '{print $3}')"
}

# ---------------------------------------------------------------- servers (inside the namespace)
SERVER_PID=

# start_server NAME PIN: PIN is a taskset prefix or empty. Every server listens on 127.0.0.1:69
# with its storm limits raised to the storm size (the defaults fail most of a 1000-client storm).
start_server() {
  local name=$1 pin=$2 out=$LOGS/$3.$1.log
  case "$name" in
    # --per-client-max 0 --per-client-rate 0: the generator is one address standing in for a rack of hosts.
    pxeboot) $pin "$PXEBOOT" serve --root "$ROOT" --address 127.0.0.1 --port 69 --per-client-max 0 --per-client-rate 0 --quiet >"$out" 2>&1 & ;;
    # -a makes tftpd-hpa call getaddrinfo with AI_ADDRCONFIG, which fails where only lo exists:
    # without it, it binds 0.0.0.0:69, which inside this namespace is loopback only.
    tftpd-hpa) $pin in.tftpd -L -u root -s "$ROOT" >"$out" 2>&1 & ;;
    atftpd) $pin "$ATFTPD" --daemon --no-fork --user root.root --bind-address 127.0.0.1 --port 69 \
      --maxthread 1000 --logfile /dev/null "$ROOT" >"$out" 2>&1 & ;;
    dnsmasq) $pin dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$ROOT" \
      --tftp-max=1000 --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root --pid-file= \
      --log-facility=/dev/null >"$out" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 50); do
    if "$PXEBOOT" get tftp://127.0.0.1/ready.txt -o /dev/null --timeout 0.1 --retries 1 >/dev/null 2>&1; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not come up (see $out)"
  return 1
}

# Peak RSS (VmHWM, KiB) of the server's main process; forked children (tftpd-hpa) not included.
server_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  # tftpd-hpa forks a child per transfer: stop those too (by pid), or they hold on to the root.
  local children
  children=$(ps -o pid= --ppid "$SERVER_PID" 2>/dev/null || true)
  kill "$SERVER_PID" $children 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# ---------------------------------------------------------------- scenarios
# scenario ID → "clients file pinned rounds bench-flags…"
scenario_args() {
  case "$1" in
    lockstep) echo "1 f32m pin $ROUNDS --blksize 1468" ;;
    big) echo "1 f32m pin $ROUNDS --blksize 65464" ;;
    win16) echo "1 f32m pin $ROUNDS --blksize 1468 --windowsize 16" ;;
    storm) echo "$STORM f4m - 1 --blksize 1468" ;;
    storm-w4) echo "$STORM f4m - 1 --blksize 1468 --windowsize 4" ;;
    loss) echo "$STORM f1m - 1 --blksize 1468 --loss 2" ;;
    probes) echo "$STORM f32m - 1 --probe" ;;
    huge) echo "10000 f1m - 1 --blksize 1468" ;;
  esac
}

run_inside() {
  ip link set lo up
  trap stop_server EXIT
  for scenario in $SCENARIOS; do
    read -r clients file pinned rounds flags <<<"$(scenario_args "$scenario")"
    local pin=""
    [ "$pinned" = pin ] && pin="taskset -c 0"
    # Rounds outside servers: a burst of other load on the machine then hits one round of each
    # server rather than every round of one.
    for round in $(seq "$rounds"); do
      for server in $SERVERS; do
        log "$scenario × $server (round $round/$rounds, $clients clients)"
        if ! start_server "$server" "$pin" "$scenario"; then
          stop_server
          printf '{"error":"server did not start"}\n' >"$RESULTS/$scenario.$server.$round.json"
          continue
        fi
        local cap=$DURATION_MAX
        [ "$scenario" = huge ] && cap=900 # 10 GB through one loopback takes minutes
        # shellcheck disable=SC2086 # flags is a word list on purpose
        $pin "$PXEBOOT" bench "tftp://127.0.0.1/$file" --clients "$clients" --concurrency "$clients" \
          --local "$ROOT/$file" --duration-max "$cap" --json $flags \
          >"$RESULTS/$scenario.$server.$round.json" 2>"$LOGS/$scenario.$server.$round.bench.err" || true
        local rss alive=1
        rss=$(server_rss_kib)
        kill -0 "$SERVER_PID" 2>/dev/null || alive=0
        printf '{"rssKiB":%s,"alive":%s,"load":"%s"}\n' "${rss:-0}" "$alive" "$(cut -d' ' -f1 /proc/loadavg)" \
          >"$RESULTS/$scenario.$server.$round.server.json"
        stop_server
        [ -s "$RESULTS/$scenario.$server.$round.json" ] ||
          printf '{"error":"bench produced no summary (see %s)"}\n' "$LOGS/$scenario.$server.$round.bench.err" \
            >"$RESULTS/$scenario.$server.$round.json"
      done
    done
  done
}

if [ "${INSIDE:-0}" = 1 ]; then
  run_inside
  exit 0
fi

setup
log "mode $MODE: storms of $STORM clients, single-client rows × $ROUNDS; work dir $WORK"
unshare -n "$0" --inside "${ORIG_ARGS[@]}"
table_args=("$RESULTS")
[ "$WRITE_RESULTS" = 1 ] && table_args+=(--write "$HERE/RESULTS.md")
"$BUN" "$HERE/table.ts" "${table_args[@]}"
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
