#!/usr/bin/env bash
# pxeboot against tftpd-hpa, atftpd and dnsmasq, side by side. Every row is driven by the same C
# load generator (../shared/tools/tftpstorm.c, compiled here with gcc -O2: a few µs of CPU per
# datagram, so the server, not the generator, is the limit), each server alone in a private
# network namespace (loopback only, port 69), started fresh for every row. Per row and server:
# MB/s, p50 and p99 completion time per client, failed clients, the server's CPU seconds per GB
# and per DATA datagram (from a cgroup of its own, else /proc), and the peak RSS of all its
# processes together (sampled every 0.25 s).
#
#   bench/compare.sh --quick        small counts (200-client storms, 2000 × 1 MiB), one round: minutes
#   bench/compare.sh                1000-client storms, 10,000 × 1 MiB, single-client row best of 3
#   options: --servers "pxeboot dnsmasq" (subset), --scenarios "storm probes" (subset; "http"
#            runs bench/http-compare.sh after the table),
#            --no-results (print the table, leave bench/RESULTS.md alone)
#   environment: PXEBOOT (binary to test; default: built from this tree), TFTPSTORM (a built
#            generator; default: compiled into $WORK), GENERATORS (generator processes per row,
#            default 1: exact percentiles), BENCH_WORK (default /tmp/pxeboot-bench)
#
# Clients come from 127.1.x.y, one address each (tftpstorm --spread), so pxeboot runs with its
# default per-client limits, as it would facing a rack of machines.
#
# Needs root (apt-get, unshare -n, port 69, cgroups). Not part of `npm test`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
. "$HERE/lib.sh"
WORK=${BENCH_WORK:-/tmp/pxeboot-bench}
# The binary under test: by default built here from the working tree (a snapshot in $WORK, so a
# dist/pxeboot that tests are running is never overwritten); set PXEBOOT to use another one.
PXEBOOT_GIVEN=${PXEBOOT:-}
PXEBOOT=${PXEBOOT:-$WORK/tree/dist/pxeboot}
BUN=${BUN:-$REPO/node_modules/.bin/bun}
GENERATORS=${GENERATORS:-1}
MODE=full
WRITE_RESULTS=1
SERVERS="pxeboot pxeboot-w1 tftpd-hpa atftpd dnsmasq"
SCENARIOS="lockstep storm storm-w4 huge probes loss http"
ORIG_ARGS=("$@")

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --huge) ;; # the 10,000-client row is always run now; kept so old command lines still work
    --servers) SERVERS=$2; PARTIAL=1; shift ;;
    --scenarios) SCENARIOS=$2; PARTIAL=1; shift ;;
    --no-results) WRITE_RESULTS=0 ;;
    --inside) INSIDE=1 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
# A run of a subset gets its own block in RESULTS.md instead of replacing the complete run's.
LABEL=$MODE
[ "${PARTIAL:-0}" = 1 ] && LABEL="$MODE, only $SCENARIOS × $SERVERS"
if [ "$MODE" = quick ]; then
  STORM=200; HUGE_N=2000; ROUNDS=1; DEADLINE=120
else
  STORM=1000; HUGE_N=10000; ROUNDS=3; DEADLINE=300
fi
export WORK PXEBOOT BUN MODE LABEL WRITE_RESULTS SERVERS SCENARIOS STORM HUGE_N ROUNDS DEADLINE GENERATORS

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
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
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
  TFTPSTORM=$(bench_tftpstorm "$WORK")
  export TFTPSTORM
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
  printf '{"date":"%s","load":"%s","mode":"%s","label":"%s","storm":%s,"huge":%s,"rounds":%s,"generators":%s,"nproc":%s,"cpu":"%s","kernel":"%s","os":"%s","cpuSource":"%s","versions":{' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$MODE" "$LABEL" "$STORM" "$HUGE_N" "$ROUNDS" \
    "$GENERATORS" "$(nproc)" "$cpu" "$(uname -r)" "$(. /etc/os-release && echo "$PRETTY_NAME")" \
    "$([ -n "$(bench_cgroup_base)" ] && echo "cgroup v2 cpu.stat" || echo "/proc utime+stime+cutime+cstime")"
  printf '"pxeboot":"%s (git %s%s)",' "$("$PXEBOOT" --version 2>/dev/null | tail -1)" \
    "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)" "$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ", modified")"
  printf '"tftpd-hpa":"%s",' "$(dpkg-query -W -f '${Version}' tftpd-hpa 2>/dev/null)"
  printf '"atftpd":"%s",' "$(basename "$WORK"/atftpd-deb/atftpd_*.deb .deb | cut -d_ -f2)"
  printf '"dnsmasq":"%s",' "$(dnsmasq --version | head -1 | awk '{print $3}')"
  printf '"tftpstorm":"gcc -O2 %s"}}\n' "$(gcc -dumpfullversion 2>/dev/null)"
}

# ---------------------------------------------------------------- servers (inside the namespace)
# start_server NAME PIN LOG LIMIT: PIN is a taskset prefix or empty. Every server listens on
# 127.0.0.1:69; the others' limits on transfers at once are raised to LIMIT (their defaults fail
# most of a storm). pxeboot keeps its defaults (its per-address limits see one client per address).
start_server() {
  local name=$1 pin=$2 out=$3 limit=$4
  # shellcheck disable=SC2086 # pin is a word list on purpose
  case "$name" in
    pxeboot) srv_start "$name" "$out" $pin "$PXEBOOT" serve --root "$ROOT" --address 127.0.0.1 --port 69 --quiet ;;
    pxeboot-w1) srv_start "$name" "$out" $pin "$PXEBOOT" serve --root "$ROOT" --address 127.0.0.1 --port 69 --quiet --workers 1 ;;
    # -a makes tftpd-hpa call getaddrinfo with AI_ADDRCONFIG, which fails where only lo exists:
    # without it, it binds 0.0.0.0:69, which inside this namespace is loopback only.
    tftpd-hpa) srv_start "$name" "$out" $pin in.tftpd -L -u root -s "$ROOT" ;;
    atftpd) srv_start "$name" "$out" $pin "$ATFTPD" --daemon --no-fork --user root.root --bind-address 127.0.0.1 --port 69 \
      --maxthread "$limit" --logfile /dev/null "$ROOT" ;;
    dnsmasq) srv_start "$name" "$out" $pin dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp \
      --tftp-root="$ROOT" --tftp-max="$limit" --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root \
      --pid-file= --log-facility=/dev/null ;;
    *) log "unknown server $name"; return 1 ;;
  esac
  srv_wait_ready "$TFTPSTORM" 69 ready.txt "$ROOT/ready.txt" && return 0
  log "$name did not come up (see $out)"
  return 1
}

# ---------------------------------------------------------------- scenarios
# scenario ID → "clients file pinned rounds servers|tftpstorm flags". Servers not in $SERVERS are
# left out; pxeboot-w1 is pxeboot with --workers 1 (issue 14's one-worker goal).
scenario_args() {
  case "$1" in
    lockstep) echo "1 f32m pin $ROUNDS pxeboot tftpd-hpa atftpd dnsmasq|-b 1468" ;;
    storm) echo "$STORM f4m - 1 pxeboot pxeboot-w1 tftpd-hpa atftpd dnsmasq|-b 1468" ;;
    storm-w4) echo "$STORM f4m - 1 pxeboot pxeboot-w1 tftpd-hpa atftpd dnsmasq|-b 1468 -w 4" ;;
    # tftpd-hpa forks a process per client (~2.6 MiB each): 10,000 of them is a test of the host.
    huge) echo "$HUGE_N f1m - 1 pxeboot atftpd dnsmasq|-b 1468" ;;
    probes) echo "$STORM f32m - 1 pxeboot tftpd-hpa atftpd dnsmasq|-m probe" ;;
    loss) echo "$STORM f1m - 1 pxeboot tftpd-hpa atftpd dnsmasq|-b 1468 -L 2 -s 1" ;;
    *) return 1 ;;
  esac
}

# Row titles and what decides each row (the table's primary metric).
scenario_title() {
  case "$1" in
    lockstep) echo "1 client × 32 MiB, blksize 1468, lockstep, server and generator on one CPU|mbps" ;;
    storm) echo "$STORM clients × 4 MiB at once, blksize 1468, lockstep|mbps" ;;
    storm-w4) echo "$STORM clients × 4 MiB at once, blksize 1468, windowsize 4 asked|mbps" ;;
    huge) echo "$HUGE_N clients × 1 MiB at once, blksize 1468|ok" ;;
    probes) echo "$STORM simultaneous tsize probes (RRQ, OACK, ERROR 8: PXE ROM style)|p99" ;;
    loss) echo "$STORM clients × 1 MiB at once, blksize 1468, 2 % of DATA lost at the client|wall" ;;
  esac
}

json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# write_run FILE SCENARIO SERVER ROUND CLIENTS SUMMARY ALIVE: one run's figures as JSON.
write_run() {
  local file=$1 scenario=$2 server=$3 round=$4 clients=$5 line=$6 alive=$7 w k v
  {
    printf '{"scenario":"%s","server":"%s","round":%s,"clients":%s,"alive":%s,"cpuSource":"%s","load":"%s"' \
      "$scenario" "$server" "$round" "$clients" "$alive" "$(srv_cpu_source)" "$(cut -d' ' -f1 /proc/loadavg)"
    for w in $line; do
      k=${w%%=*} v=${w#*=}
      if [ "$k" = error ]; then printf ',"error":"%s"' "$(json_str "$v")"; else printf ',"%s":%s' "$k" "$v"; fi
    done
    printf '}\n'
  } >"$file"
}

run_inside() {
  ip link set lo up
  # 10,000 clients hold a socket each on both sides (dnsmasq also a file each).
  ulimit -Hn 200000 2>/dev/null || true
  ulimit -n "$(ulimit -Hn)"
  trap srv_stop EXIT
  local scenario order=0
  for scenario in $SCENARIOS; do
    [ "$scenario" = http ] && continue # after the table, in a namespace of its own
    order=$((order + 1))
    local spec clients file pinned rounds servers flags title
    spec=$(scenario_args "$scenario") || { log "unknown scenario $scenario"; continue; }
    read -r clients file pinned rounds servers <<<"${spec%%|*}"
    flags=${spec#*|}
    title=$(scenario_title "$scenario")
    printf '{"id":"%s","title":"%s","primary":"%s","clients":%s,"flags":"%s","order":%s}\n' "$scenario" \
      "$(json_str "${title%|*}")" "${title##*|}" "$clients" "$flags" "$order" >"$RESULTS/$scenario.scenario.json"
    local pin=""
    [ "$pinned" = pin ] && pin="taskset -c 0"
    local cap=$DEADLINE limit=$((clients > 1000 ? clients : 1000))
    [ "$scenario" = huge ] && cap=900 # 10 GB through one loopback takes minutes
    # Rounds outside servers: a burst of other load on the machine then hits one round of each
    # server rather than every round of one.
    for round in $(seq "$rounds"); do
      for server in $servers; do
        case " $SERVERS " in *" $server "*) ;; *) continue ;; esac
        local base=$RESULTS/$scenario.$server.$round
        log "$scenario × $server (round $round/$rounds, $clients clients)"
        if ! start_server "$server" "$pin" "$LOGS/$scenario.$server.$round.log" "$limit"; then
          srv_stop
          write_run "$base.json" "$scenario" "$server" "$round" "$clients" "error=server_did_not_start" 0
          continue
        fi
        local line alive=1
        # shellcheck disable=SC2086 # flags is a word list on purpose
        line=$(bench_storm "$LOGS/$scenario.$server.$round" "$GENERATORS" "$clients" $pin "$TFTPSTORM" \
          $flags -l "$ROOT/$file" -D "$cap" 127.0.0.1 69 "$file")
        srv_alive || alive=0
        write_run "$base.json" "$scenario" "$server" "$round" "$clients" "$line" "$alive"
        srv_stop
      done
    done
  done

  # ---- More rows would go here, inside the namespace (the HTTP rows run after the table, in a
  # namespace of their own: bench/http-compare.sh). A row script finds WORK, ROOT, RESULTS, LOGS, PXEBOOT, TFTPSTORM, MODE, STORM, DEADLINE and GENERATORS
  # in the environment and may use lib.sh (srv_start, srv_stop, bench_storm). To appear in the
  # table it writes, per row, $RESULTS/ID.scenario.json ({"id", "title", "primary": "mbps" |
  # "wall" | "p99" | "ok", "clients", "flags"}; without "order" its rows come last) and, per
  # server and round, $RESULTS/ID.SERVER.ROUND.json with the keys write_run writes (scenario
  # server round clients alive, and ok failed wall_s mbps p50_s p99_s srv_cpu_s peak_rss_kib …).
}

if [ "${INSIDE:-0}" = 1 ]; then
  export ROOT RESULTS LOGS TFTPSTORM
  run_inside
  exit 0
fi

setup
log "mode $MODE: storms of $STORM clients, $HUGE_N × 1 MiB, single-client row × $ROUNDS, $GENERATORS generator(s); work dir $WORK"
unshare -n "$0" --inside "${ORIG_ARGS[@]}"
table_args=("$RESULTS")
[ "$WRITE_RESULTS" = 1 ] && table_args+=(--write "$HERE/RESULTS.md")
"$BUN" "$HERE/table.ts" "${table_args[@]}"
# HTTP boot (issue 16): its own namespace and table, the same binary.
case " $SCENARIOS " in
  *" http "*) PXEBOOT="$PXEBOOT" "$HERE/http-compare.sh" $([ "$MODE" = quick ] && echo --quick) $([ "$WRITE_RESULTS" = 1 ] || echo --no-results) ;;
esac
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
