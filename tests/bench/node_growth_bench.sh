#!/usr/bin/env bash
# node_growth_bench.sh BUILD_DIR DATA_DIR SIZE... [-- STARTUP_SECONDS]: grows a strop-node's
# store through its HTTP API (docs/performance.md "Growth through the API"; issue 18's
# benchmark). Not a test: prints figures only, and fails only when the client saw a failed
# report, a stored message that did not match or an unknown one that did.
#
# For each SIZE in turn (e.g. 1000000 10000000 100000000; signatures), on DATA_DIR (new or
# empty at the first size; kept, so node_startup_bench.sh can run on it later):
#   - starts strop-node serve (rate limits and expiry off) and times it to "ready";
#   - node_bench_client --mode grow: reports synthetic_store.hpp's messages (8 signatures
#     each) through POST /v1/report, 1,000 signatures a request over 4 keep-alive
#     connections, from the previous size to SIZE, while one more connection checks a stored
#     and an unknown message alternately; each tenth of the way it prints the window's report
#     and check latency (p50 / p99.9 / max), the node's RSS and data.mdb's size;
#   - stops the node (SIGTERM: the index snapshot is written) and runs node_startup_bench.sh:
#     exec to the first answered check, RSS, node CPU per check over HTTP and strop-udp/1
#     (STARTUP_SECONDS each, default 5), and the stop.
# NODE_FIFO=1 (root; a diagnostic): the node's threads except its writer, and the client's
# checker thread, run SCHED_FIFO during growth, so check latency no longer includes their
# waits for a CPU while the writer and the report clients keep the 2 CPUs busy.
# WRITER_IDLE=1: the node runs with storage.writer_idle_priority = true (its writer thread
# SCHED_IDLE; docs/performance.md "The writer at idle priority").
set -euo pipefail
usage="usage: node_growth_bench.sh BUILD_DIR DATA_DIR SIZE... [-- STARTUP_SECONDS]"
build=${1:?$usage}
data=${2:?$usage}
shift 2
sizes=()
secs=5
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then secs=${2:?$usage}; break; fi
  sizes+=("$1")
  shift
done
[ ${#sizes[@]} -gt 0 ] || { echo "$usage" >&2; exit 64; }
here=$(cd "$(dirname "$0")" && pwd)
node=$build/node/strop-node
client=$build/tests/bench/node_bench_client
if [ -e "$data/data.mdb" ]; then
  echo "node_growth_bench.sh: $data already holds a store; give a new directory" >&2
  exit 64
fi
mkdir -p "$data"
tmp=$(mktemp -d /tmp/strop-growth.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
cat > "$tmp/node.toml" <<TOML
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
[storage]
expire_after_seconds = 0
TOML
if [ "${WRITER_IDLE:-0}" = 1 ]; then echo "writer_idle_priority = true" >> "$tmp/node.toml"; fi
now() { date +%s.%N; }
"$node" reporter add bench --trust 1.0 --out "$tmp/id.json" --data "$data" \
  --config "$tmp/node.toml" 2>/dev/null
echo "# growth through the API on $data: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
from=0
for size in "${sizes[@]}"; do
  : > "$tmp/log"
  t0=$(now)
  "$node" serve --data "$data" --config "$tmp/node.toml" --listen 127.0.0.1:0 2> "$tmp/log" &
  pid=$!
  until grep -q "ready: listening" "$tmp/log"; do
    kill -0 $pid 2>/dev/null || { cat "$tmp/log"; exit 1; }
    sleep 0.01
  done
  port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/log" | head -1 | sed 's/.*://')
  echo "## grow $from -> $size signatures (node started in $(awk "BEGIN{print $(now) - $t0}") s)"
  fifo=()
  if [ "${NODE_FIFO:-0}" = 1 ]; then
    # Diagnostic: the node's threads but its writer, and the client's checker, SCHED_FIFO, so
    # that what is left of a check's latency is not a wait for a CPU on a busy box.
    for t in /proc/"$pid"/task/*; do
      [ "$(cat "$t/comm")" = strop-writer ] || chrt -f -p 1 "${t##*/}" > /dev/null
    done
    fifo=(--checker-fifo)
  fi
  "$client" --port "$port" --mode grow --identity "$tmp/id.json" --from "$from" \
    --grow-to "$size" --connections 4 --node-pid $pid --data "$data" "${fifo[@]}"
  kill -TERM $pid
  wait $pid || true
  pid=
  grep -o "storage: saved the index snapshot.*" "$tmp/log" || echo "(no snapshot written)"
  echo "## at $size signatures"
  "$here/node_startup_bench.sh" "$build" "$data" "$secs"
  from=$size
done
