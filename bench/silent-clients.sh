#!/usr/bin/env bash
# What a client that never answers (one RRQ, blksize 65464, windowsize 64) and one that closes its
# socket after its first ACK draw from pxeboot, tftpd-hpa and dnsmasq, each alone on 127.0.0.1:69
# in a network namespace of its own (dnsmasq's TFTP listens on 69 only). Root, bun, in.tftpd,
# dnsmasq. One JSON line per server (bench/silent-clients.ts says what is counted).
#   bench/silent-clients.sh [--servers "pxeboot tftpd-hpa dnsmasq"]
# PXEBOOT=path picks the binary (default dist/pxeboot; e.g. an older build to compare).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PXEBOOT=${PXEBOOT:-$here/../dist/pxeboot}
SERVERS="pxeboot tftpd-hpa dnsmasq"
[ "${1:-}" = --servers ] && SERVERS=$2
[ "$(id -u)" = 0 ] || { echo "silent-clients: needs root (network namespace, raw ICMP socket)" >&2; exit 1; }
BUN=${BUN:-$(command -v bun || echo "$here/../node_modules/.bin/bun")}

root=$(mktemp -d /tmp/pxeboot-silent.XXXXXX)
chmod 755 "$root"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$root/big"
chmod 644 "$root/big"
ns=pxeboot-silent-$$
ip netns add "$ns"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
ip -n "$ns" link set lo up

for name in $SERVERS; do
  case "$name" in
    pxeboot) cmd=("$PXEBOOT" serve --root "$root" --address 127.0.0.1 --port 69 --quiet) ;;
    # -a makes tftpd-hpa call getaddrinfo with AI_ADDRCONFIG, which fails where only lo exists.
    tftpd-hpa) cmd=(in.tftpd -L -u root -s "$root") ;;
    dnsmasq) cmd=(dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$root"
      --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root --pid-file= --log-facility=/dev/null) ;;
    *) echo "unknown server $name" >&2; exit 1 ;;
  esac
  ip netns exec "$ns" "${cmd[@]}" >"$root.$name.log" 2>&1 &
  pid=$!
  sleep 1
  printf '{"server":"%s","result":' "$name"
  ip netns exec "$ns" "$BUN" "$here/silent-clients.ts" 69 big | tr -d '\n'
  echo '}'
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  pid=
  rm -f "$root.$name.log"
done
