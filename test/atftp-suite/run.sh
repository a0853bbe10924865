#!/bin/bash
# atftp 0.8.0's own test suite (test/test.sh from the atftp source, e.g. Debian's atftp source
# package) run against pxeboot instead of atftpd: a small shim named atftpd, where test.sh looks
# for its server, starts `pxeboot serve` on the suite's tree and port with uploads on (the suite
# puts every file back as write.bin, over the last one). The atftp client is the installed one.
#
#   test/atftp-suite/run.sh [ATFTP_SOURCE_DIR]      (default: apt-get source atftp, into a temp dir)
#
# Prints the suite's output, then which of its get and put lines passed. Exit status: 0 when
# every get and put line passed (the other sections test atftpd's own features, see below).
# Needs: atftp (the client), and root or the current user able to run pxeboot on a high port.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PXEBOOT=${PXEBOOT:-$HERE/../../dist/pxeboot}
SRC=${1:-}
WORK=$(mktemp -d /tmp/pxeboot-atftp-suite.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK" # the server, run as its own user, must reach the suite's tree inside

if [[ -z "$SRC" ]]; then
    # Needs a deb-src line for Debian's main archive.
    (cd "$WORK" && apt-get source --download-only atftp >/dev/null 2>&1) || true
    ORIG=$(ls "$WORK"/atftp_*.orig.tar.* 2>/dev/null | head -1)
    if [[ -z "$ORIG" ]]; then
        echo "no atftp source: pass its directory, or add a deb-src line and apt-get update" >&2
        exit 3
    fi
    tar -xf "$ORIG" -C "$WORK"
    SRC=$(ls -d "$WORK"/atftp-*/ | head -1)
fi
[[ -f "$SRC/test/test.sh" ]] || { echo "$SRC/test/test.sh not found" >&2; exit 3; }
command -v atftp >/dev/null || { echo "atftp (the client) is not installed" >&2; exit 3; }
[[ -x "$PXEBOOT" ]] || { echo "$PXEBOOT not built: bun build.ts" >&2; exit 3; }

# test.sh runs from its own directory and takes ../atftp and ../atftpd when they exist.
mkdir -p "$WORK/suite/test"
cp "$SRC/test/test.sh" "$WORK/suite/test/"
# atftpd's PCRE file rewriting has no pxeboot counterpart (pxeboot takes tftpd-hpa's remap rules),
# and its mapped download failing would stop the suite (set -e) before the high-load test.
sed -i 's/^test_PCRE$/echo -e "\\n===== Test PCRE substitution: skipped (an atftpd feature)"/' "$WORK/suite/test/test.sh"
ln -s "$(command -v atftp)" "$WORK/suite/atftp"
cat > "$WORK/suite/atftpd" <<SHIM
#!/bin/bash
# atftpd's command line as test.sh writes it: options, then the directory to serve.
port=69 dir=
while [[ \$# -gt 0 ]]; do
    case "\$1" in
        --port=*) port=\${1#--port=} ;;
        --pcre|--logfile|--mtftp|--mtftp-port) shift ;;
        --pcre-test) echo "pxeboot has no PCRE rewriting (tftpd-hpa -m remap rules instead)" >&2; exit 1 ;;
        -*) ;;
        *) dir=\$1 ;;
    esac
    shift
done
if [[ \$(id -u) -eq 0 ]]; then
    # As on a boot host: the server drops root and the tree (made 0700 by mktemp) must be its to
    # read, and to write, since the suite uploads into the root.
    user=\$(id -u tftp >/dev/null 2>&1 && echo tftp || echo nobody)
    chmod 755 "\$dir" && chown "\$user" "\$dir"
fi
exec "$PXEBOOT" serve "\$dir" --address 127.0.0.1 --port "\$port" --create --overwrite --verbose
SHIM
chmod +x "$WORK/suite/atftpd"

cd "$WORK/suite/test"
PORT=${PORT:-$((20000 + RANDOM % 20000))} TEMPDIR="$WORK" NBSERVER=${NBSERVER:-200} \
    bash ./test.sh 2>&1 | tee "$WORK/out.txt"
echo
echo "=== pxeboot against atftp's test.sh: get and put lines ==="
grep -E '^\s+(get|put):' "$WORK/out.txt" | sed -E 's/[[:space:]]+/ /g'
ok_get=$(grep -cE '^\s+get:.*OK$' "$WORK/out.txt")
ok_put=$(grep -cE '^\s+put:.*OK$' "$WORK/out.txt")
all_get=$(grep -cE '^\s+get:' "$WORK/out.txt")
all_put=$(grep -cE '^\s+put:' "$WORK/out.txt")
# test.sh: 9 standard files (0.bin to 100M.bin), 7 block sizes, 7 window sizes, 1 rollover.
expected=24
echo "get: $ok_get of $all_get OK, put: $ok_put of $all_put OK (test.sh has $expected of each)"
[[ $ok_get -eq $expected && $ok_put -eq $expected ]]
