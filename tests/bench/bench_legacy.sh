#!/bin/sh
# bench_legacy.sh: benchmark of the legacy listeners (a script, not a test; figures go to
# docs/performance.md "## Legacy listeners").
#
#   tests/bench/bench_legacy.sh [BUILD_DIR] [SECONDS] [CONCURRENCY]
#
# 1. Starts strop-node (Pyzor + Razor2 listeners, rate limits off) on a temporary store and
#    reports 200 corpus spams with `strop report` (all engines).
# 2. Starts pyzord (Debian pyzor, default gdbm engine, single process as shipped) on a
#    temporary homedir and reports the same 200 pyzor digests to it.
# 3. Drives both with the same load generator (legacy_load pyzor): "check" requests for the
#    pyzor digests of 400 corpus spams (half of them reported), CONCURRENCY in flight.
# 4. Razor2: legacy_load razor with razor-check's connection pattern (connect, greeting,
#    identify, one e4+e8 check batch, a=q, close), and the real `razor-check` for reference.
# Loopback only; everything is removed at exit. Needs a build with -DSTROP_BENCH=ON
# (targets strop-node, strop, legacy_load).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build-listeners}
SECS=${2:-10}
CONC=${3:-32}
NODE=$BUILD/node/strop-node
STROP=$BUILD/agent/cli/strop
LOAD=$BUILD/tests/bench/legacy_load
CORPUS=${STROP_CORPUS:-$ROOT/../shared/corpus}
PY=/usr/bin/python3
for f in "$NODE" "$STROP" "$LOAD"; do
  [ -x "$f" ] || { echo "missing $f (cmake --build $BUILD --target strop-node strop legacy_load)" >&2; exit 2; }
done
command -v pyzord >/dev/null || { echo "missing pyzord (package pyzor, python3-gdbm)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/strop-legacy-bench-XXXXXX)
NODE_PID=
PYZORD_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  [ -n "$PYZORD_PID" ] && kill "$PYZORD_PID" 2>/dev/null && wait "$PYZORD_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {  # $1 = tcp|udp
  $PY -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1]=='tcp' else socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" "$1"
}

# ---- inputs: 400 spams, the first 200 reported
ls "$CORPUS/spam" | sort | head -400 | sed "s|^|$CORPUS/spam/|" > "$TMP/all.lst"
head -200 "$TMP/all.lst" > "$TMP/reported.lst"
# shellcheck disable=SC2046
"$STROP" sig --engines pyzor $(cat "$TMP/all.lst") 2>/dev/null | grep -o 'pyzor:[0-9a-f]\{40\}' | cut -d: -f2 > "$TMP/digests.txt"
# shellcheck disable=SC2046
"$STROP" sig --engines pyzor $(cat "$TMP/reported.lst") 2>/dev/null | grep -o 'pyzor:[0-9a-f]\{40\}' | cut -d: -f2 > "$TMP/reported-digests.txt"
# one "e4 e8" pair per message (messages without an e8 get a random one in legacy_load)
for f in $(cat "$TMP/all.lst"); do
  "$STROP" sig --engines razor-e4,razor-e8 "$f" 2>/dev/null |
    awk '{e4="";e8=""; for(i=1;i<=NF;i++){ if($i ~ /^razor-e4:/ && e4=="") e4=substr($i,10); if($i ~ /^razor-e8:/ && e8=="") e8=substr($i,10)} if(e4!="") print e4, (e8==""?"AAAAAAAAAAAA":e8)}'
done > "$TMP/razor-sigs.txt"
echo "inputs: $(wc -l < "$TMP/digests.txt") pyzor digests ($(wc -l < "$TMP/reported-digests.txt") reported), $(wc -l < "$TMP/razor-sigs.txt") razor e4/e8 pairs"

# ---- strop-node
printf '[rate_limit]\nip_per_second = 0\nreporter_per_second = 0\n' > "$TMP/node.toml"
"$NODE" serve --data "$TMP/data" --config "$TMP/node.toml" --listen 127.0.0.1:0 \
  --razor-listen 127.0.0.1:0 --pyzor-listen 127.0.0.1:0 2> "$TMP/node.log" &
NODE_PID=$!
i=0
until grep -q "ready: listening" "$TMP/node.log"; do
  i=$((i + 1)); [ $i -lt 300 ] || { cat "$TMP/node.log"; exit 1; }; sleep 0.2
done
HTTP=$(sed -n 's/.*ready: listening on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
RAZOR=$(sed -n 's/.*razor listener on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
PYZOR=$(sed -n 's/.*pyzor listener on [0-9.]*:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
"$NODE" reporter add bench --trust 0.9 --out "$TMP/bench.json" --data "$TMP/data" --config "$TMP/node.toml" \
  --node-url "http://127.0.0.1:$HTTP" 2>/dev/null
# shellcheck disable=SC2046
"$STROP" report --identity "$TMP/bench.json" --node "http://127.0.0.1:$HTTP" -q $(cat "$TMP/reported.lst")

# ---- pyzord (as shipped: gdbm, one process, one thread)
PYZORD_PORT=$(free_port udp)
mkdir "$TMP/pyzord"
pyzord --homedir "$TMP/pyzord" -a 127.0.0.1 -p "$PYZORD_PORT" > "$TMP/pyzord.log" 2>&1 &
PYZORD_PID=$!
$PY - "$PYZORD_PORT" "$TMP/reported-digests.txt" <<'EOF'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for _ in range(100):  # wait until pyzord answers
    try:
        s.sendto(b"Op: ping\nThread: 1100\nPV: 2.1\nUser: anonymous\n\n", ("127.0.0.1", port))
        s.recv(1000)
        break
    except OSError:
        time.sleep(0.2)
for n, d in enumerate(open(path).read().split()):
    s.sendto(("Op: report\nOp-Digest: %s\nThread: %d\nPV: 2.1\nUser: anonymous\n\n" % (d, 2000 + n)).encode(),
             ("127.0.0.1", port))
    s.recv(1000)
EOF

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# Runs the load generator against PID's port and adds the server's CPU time per request.
measure() {  # $1 label, $2 pid, then legacy_load arguments
  label=$1; pid=$2; shift 2
  before=$(cpu_of "$pid")
  out=$("$LOAD" "$@")
  after=$(cpu_of "$pid")
  n=$(echo "$out" | sed -n 's/.*: \([0-9]*\) requests in.*/\1/p')
  echo "$label $out"
  echo "$label   server CPU $(echo "$after - $before" | bc) s = $(echo "scale=1; 1000000 * ($after - $before) / $n" | bc) us/request, $(echo "$n / ($after - $before)" | bc) requests per server CPU-second"
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== Pyzor check, $CONC in flight, ${SECS} s each"
measure "pyzord:                 " "$PYZORD_PID" pyzor --port "$PYZORD_PORT" --seconds "$SECS" --concurrency "$CONC" --digests "$TMP/digests.txt"
measure "strop-node:             " "$NODE_PID" pyzor --port "$PYZOR" --seconds "$SECS" --concurrency "$CONC" --digests "$TMP/digests.txt"
measure "pyzord, 1 in flight:    " "$PYZORD_PID" pyzor --port "$PYZORD_PORT" --seconds "$SECS" --concurrency 1 --digests "$TMP/digests.txt"
measure "strop-node, 1 in flight:" "$NODE_PID" pyzor --port "$PYZOR" --seconds "$SECS" --concurrency 1 --digests "$TMP/digests.txt"

echo "== Razor2 check conversations (razor-check's pattern: one connection per check)"
for c in 1 8; do
  measure "strop-node, $c parallel:" "$NODE_PID" razor --port "$RAZOR" --seconds "$SECS" --concurrency "$c" --sigs "$TMP/razor-sigs.txt"
done
# The real client, for scale: one razor-check process per message (Perl start-up included).
mkdir "$TMP/razorhome"
N=20
START=$(date +%s.%N)
for f in $(head -$N "$TMP/all.lst"); do
  razor-check -home="$TMP/razorhome" -rs=127.0.0.1:"$RAZOR" "$f" > /dev/null 2>&1 || true
done
END=$(date +%s.%N)
echo "real razor-check: $N runs in $(echo "$END - $START" | bc) s"
echo "node: $(grep -c . "$TMP/node.log") log lines; pyzord rss $(ps -o rss= -p "$PYZORD_PID") KiB, strop-node rss $(ps -o rss= -p "$NODE_PID") KiB"
