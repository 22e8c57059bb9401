#!/usr/bin/env bash
# bench-milter.sh: what strop-milter costs per message, measured through a real Postfix.
#
#   scripts/bench-milter.sh [--milter PATH] [--node PATH] [--node-proto http|udp] [--messages N] [--corpus DIR]
#
# Starts (on loopback, random free ports, a temp dir, all stopped at exit) clamd with the
# EICAR-only test database, optionally a strop-node on a temporary LMDB, and one private
# Postfix with four smtpd listeners:
#   none    Postfix alone
#   full    + strop-milter on a unix socket: clamd + node lookup + rules
#   noclam  + strop-milter on a unix socket: node lookup + rules (no clamd)
#   reply   + strop-milter on a unix socket, every step answered (milter.no_reply = "no")
#   inet    + strop-milter over TCP (inet:PORT@127.0.0.1): clamd + node + rules
# and measures
#   1. latency: N real ham messages (corpus/ham), each sent to every listener in turn over
#      one SMTP session per listener (interleaved, so background load hits all alike); per
#      message MAIL FROM .. 250 after DATA, median and p90 (ms); "added" = median(listener)
#      - median(none);
#   2. throughput: smtp-source (-s 1 and -s 5, -l 2000) msg/s until all are delivered;
#   3. the milter's own per-stage times from its log (median ms).
# Prints markdown tables (copied into docs/performance.md "## Milter"). Needs root (postfix).
# Never decides pass/fail on time.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/milter/lib.sh"

MILTER=$ROOT/build/release/agent/milter/strop-milter
NODE=$ROOT/build/release/node/strop-node
NODE_PROTO=http  # how the milters reach the node: http (native API) or udp (strop-udp/1)
N=300
CORPUS=$ROOT/../shared/corpus
while [ $# -gt 0 ]; do
  case $1 in
    --milter) MILTER=$2; shift 2 ;;
    --node) NODE=$2; shift 2 ;;
    --node-proto) NODE_PROTO=$2; shift 2 ;;
    --messages) N=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    *) echo "usage: $0 [--milter PATH] [--node PATH] [--node-proto http|udp] [--messages N] [--corpus DIR]" >&2; exit 64 ;;
  esac
done
[ -x "$MILTER" ] || die "strop-milter not found at $MILTER (scripts/build.sh release)"
[ "$(id -u)" = 0 ] || die "needs root (postfix)"

T=$(mktemp -d /tmp/strop-bench-milter.XXXXXX)
chmod 755 "$T"
MILTER_PIDS=()
cleanup() {
  local p
  for p in "${MILTER_PIDS[@]}"; do stop_pid "$p" 0; done
  lib_cleanup
  rm -rf "$T"
}
trap cleanup EXIT

P_NONE=$(free_port) P_FULL=$(free_port) P_NOCLAM=$(free_port) P_INET=$(free_port) P_REPLY=$(free_port)
CLAMD_PORT=$(free_port) NODE_PORT=$(free_port) MILTER_TCP=$(free_port)

clamd_setup "$T/clam" "$CLAMD_PORT"
clamd_start "$T/clam" "$CLAMD_PORT"

NODE_URLS='[]'
if [ -x "$NODE" ]; then
  mkdir -p "$T/node"
  NODE_UDP_PORT=$(free_port)
  "$NODE" serve --data "$T/node" --listen "127.0.0.1:$NODE_PORT" \
    --udp-listen "127.0.0.1:$NODE_UDP_PORT" >"$T/node.log" 2>&1 &
  LIB_PIDS+=($!)
  if wait_until 30 curl -sf "http://127.0.0.1:$NODE_PORT/healthz" -o /dev/null; then
    NODE_URLS="[\"http://127.0.0.1:$NODE_PORT\"]"
    if [ "$NODE_PROTO" = udp ]; then NODE_URLS="[\"udp://127.0.0.1:$NODE_UDP_PORT\"]"; fi
  else
    log "strop-node did not start; benchmarking without the lookup stage"
  fi
else
  log "strop-node not found at $NODE: benchmarking without the lookup stage"
fi

cat > "$T/bench.rules" <<'R'
header SUBJ_FREE   Subject =~ /free\s+money/i
header NO_DATE     Date !~ /./
body   PILLS       /cheap\s+(pills|meds)/i
body   LOTTERY     /you (have )?won/i
rawbody FONT_RED   /<font[^>]+color=.?red/i
uri    SHORTENER   m{^https?://(bit\.ly|tinyurl\.com)/}i
meta   COMBO       PILLS && SHORTENER
R

declare -A MPID
milter() {  # milter NAME SOCKET CLAMD_ENABLED [NO_REPLY]
  cat > "$T/$1.toml" <<C
[milter]
socket = "$2"
socket_mode = "0666"
no_reply = "${4:-auto}"
[log]
level = "info"
[buffer]
spool_dir = "$T"
[clamd]
enabled = $3
addresses = ["unix:$T/clam/clamd.sock"]
[node]
urls = $NODE_URLS
cache_ttl_ms = 0
[rules]
file = "$T/bench.rules"
C
  "$MILTER" --config "$T/$1.toml" >"$T/$1.log" 2>&1 &
  MILTER_PIDS+=($!)
  MPID[$1]=$!
}
cpu_ticks() {  # user+system clock ticks of PID and its threads
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
milter full "unix:$T/full.sock" true
milter noclam "unix:$T/noclam.sock" false
milter inet "inet:$MILTER_TCP@127.0.0.1" true
milter reply "unix:$T/reply.sock" true no
wait_until 20 test -S "$T/full.sock" && wait_until 20 test -S "$T/noclam.sock" &&
  wait_until 20 test -S "$T/reply.sock" &&
  wait_until 20 tcp_open "$MILTER_TCP" || die "milters did not start"

pf_setup "$T/pf" "$P_NONE" "$P_FULL=unix:$T/full.sock" "$P_NOCLAM=unix:$T/noclam.sock" \
  "$P_INET=inet:127.0.0.1:$MILTER_TCP" "$P_REPLY=unix:$T/reply.sock"
pf_start "$T/pf" "$P_NONE"

delivered() { find "$T/pf/mail/sink/new" -type f 2>/dev/null | wc -l; }
wait_delivered() {  # wait_delivered COUNT
  local want=$1
  wait_until 600 test "$(delivered)" -ge "$want" || log "only $(delivered)/$want delivered"
}

# ---- 1. latency per message: real ham, one SMTP session per listener, interleaved ----
# Every message goes to every listener in turn (rotating the order), so load from other
# processes on the machine affects all listeners alike.
ls "$CORPUS"/ham/*.eml | head -"$N" > "$T/ham.list"
NAMES="none full noclam reply inet"
port_of() {
  case $1 in none) echo "$P_NONE" ;; full) echo "$P_FULL" ;; noclam) echo "$P_NOCLAM" ;;
    reply) echo "$P_REPLY" ;; inet) echo "$P_INET" ;; esac
}
latency_all() {  # latency_all -> lines "NAME median p90" (ms)
  local args=() name
  for name in $NAMES; do args+=("$name=$(port_of "$name")"); done
  /usr/bin/python3 - "$T/ham.list" "${args[@]}" <<'PY'
import smtplib, statistics, sys, time
listfile, targets = sys.argv[1], [a.split('=') for a in sys.argv[2:]]
msgs = []
for path in open(listfile).read().split():
    raw = open(path, 'rb').read()
    if raw.startswith(b'From '):
        raw = raw.split(b'\n', 1)[1]
    msgs.append(raw.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n'))
conns = {}
for name, port in targets:
    s = smtplib.SMTP('127.0.0.1', int(port), timeout=120)
    s.ehlo('bench.example')
    conns[name] = s
times = {name: [] for name, _ in targets}
names = [name for name, _ in targets]
for i, raw in enumerate(msgs):
    order = names[i % len(names):] + names[:i % len(names)]
    for name in order:
        t0 = time.perf_counter()
        conns[name].sendmail('bench@example.org', ['u@test.local'], raw)
        times[name].append((time.perf_counter() - t0) * 1000)
for name in names:
    conns[name].quit()
    t = sorted(times[name])
    print(f"{name} {statistics.median(t):.2f} {t[int(len(t) * 0.9)]:.2f}")
PY
}
declare -A MED P90 FROM TO CPU0 CPU
before=$(delivered)
latency_all > /dev/null  # warm-up pass (first-use costs)
for name in $NAMES; do [ -f "$T/$name.log" ] && FROM[$name]=$(wc -l < "$T/$name.log"); done
for name in "${!MPID[@]}"; do CPU0[$name]=$(cpu_ticks "${MPID[$name]}"); done
while read -r name med p90; do
  MED[$name]=$med P90[$name]=$p90
  log "latency $name: median $med ms, p90 $p90 ms"
done < <(latency_all)
for name in $NAMES; do [ -f "$T/$name.log" ] && TO[$name]=$(wc -l < "$T/$name.log"); done
n_ham=$(wc -l < "$T/ham.list")
hz=$(getconf CLK_TCK)
for name in "${!MPID[@]}"; do
  CPU[$name]=$(awk -v a="${CPU0[$name]}" -v b="$(cpu_ticks "${MPID[$name]}")" -v hz="$hz" -v n="$n_ham" \
    'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')
done
wait_delivered $((before + 10 * n_ham))

# ---- 2. throughput with smtp-source ----
declare -A RATE
for name in $NAMES; do
  p=$(port_of "$name")
  for s in 1 5; do
    before=$(delivered)
    t0=$(date +%s%N)
    smtp-source -4 -s "$s" -m "$N" -l 2000 -f bench@example.org -t u@test.local -S bench \
      "127.0.0.1:$p" || log "smtp-source failed on $name"
    t1=$(date +%s%N)
    wait_delivered $((before + N))
    RATE[$name.$s]=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
    log "throughput $name -s $s: ${RATE[$name.$s]} msg/s"
  done
done

# ---- 3. the milter's own stage times (median over its log lines) ----
measured() {  # the measured latency pass's log lines of milter NAME
  sed -n "$(( ${FROM[$1]} + 1 )),${TO[$1]}p" "$T/$1.log" | grep 'verdict='
}
stage_median() {  # stage_median NAME STAGE
  measured "$1" | grep -o "[,=]$2:[0-9.]*ms" | sed "s/.*$2://; s/ms//" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.3f", a[int((NR + 1) / 2)]; else printf "-" }'
}
total_median() {
  measured "$1" | grep -o "total=[0-9.]*ms" | sed 's/total=//; s/ms//' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.3f", a[int((NR + 1) / 2)]; else printf "-" }'
}

add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }
echo
echo "Machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/'); N=$N; node: $([ "$NODE_URLS" = '[]' ] && echo absent || echo "$NODE_URLS")"
echo
echo "| Postfix listener | median ms/message | p90 | added median vs Postfix alone | smtp-source 1 session msg/s | 5 sessions msg/s |"
echo "|---|---|---|---|---|---|"
for name in $NAMES; do
  case $name in
    none) label="Postfix alone" ;;
    full) label="+ strop-milter, unix socket: clamd + node + rules" ;;
    noclam) label="+ strop-milter, unix socket: node + rules (no clamd)" ;;
    reply) label="+ strop-milter, unix socket, every step answered (no_reply = no)" ;;
    inet) label="+ strop-milter over TCP: clamd + node + rules" ;;
  esac
  added="-"
  [ "$name" != none ] && added=$(add "${MED[$name]}" "${MED[none]}")
  echo "| $label | ${MED[$name]} | ${P90[$name]} | $added | ${RATE[$name.1]} | ${RATE[$name.5]} |"
done
echo
echo "| milter (median ms per message, from its log) | parse | clamd | lookup | rules | total | milter CPU ms/message |"
echo "|---|---|---|---|---|---|---|"
for name in full noclam reply inet; do
  echo "| $name | $(stage_median "$name" parse) | $(stage_median "$name" clamd) | $(stage_median "$name" lookup) | $(stage_median "$name" rules) | $(total_median "$name") | ${CPU[$name]} |"
done
