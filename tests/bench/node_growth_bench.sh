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
# PIN_CPUS=1 (root, 2 or more CPUs; a diagnostic of host tuning): during the run, the host's
# unbound kernel threads (kdamond, khugepaged, kswapd, kcompactd, ...) and the interrupts
# that allow it are moved to CPU 0, with the node's writer and the client's report threads;
# the node's other threads and the client's checker thread run on the other CPUs. The old
# affinities are restored at exit. So a check never waits for a CPU behind the writer or a
# kernel thread that the kernel does not preempt.
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
restore=()  # PIN_CPUS=1: "kind id affinity" to put back at exit
unpin_host() {
  local r kind id aff
  for r in "${restore[@]}"; do
    read -r kind id aff <<< "$r"
    if [ "$kind" = irq ]; then
      echo "$aff" > "/proc/irq/$id/smp_affinity_list" 2>/dev/null || true
    else
      taskset -p -c "$aff" "$id" > /dev/null 2>&1 || true
    fi
  done
}
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; unpin_host; rm -rf "$tmp"' EXIT
ncpu=$(nproc)
rest=1-$((ncpu - 1))
[ "$ncpu" -gt 2 ] || rest=1
pin_host() {  # unbound kernel threads and movable interrupts to CPU 0
  local d flags aff irq moved=0
  for d in /proc/[0-9]*; do
    flags=$(awk '{print $9}' "$d/stat" 2>/dev/null) || continue
    [ -n "$flags" ] && (( flags & 0x200000 )) || continue  # PF_KTHREAD
    aff=$(awk '/^Cpus_allowed_list/ {print $2}' "$d/status" 2>/dev/null) || continue
    [ "$aff" = "0-$((ncpu - 1))" ] || continue  # per-CPU kernel threads stay
    if taskset -p -c 0 "${d##*/}" > /dev/null 2>&1; then
      restore+=("task ${d##*/} $aff")
      moved=$((moved + 1))
    fi
  done
  for irq in /proc/irq/[0-9]*; do
    aff=$(cat "$irq/smp_affinity_list" 2>/dev/null) || continue
    if echo 0 > "$irq/smp_affinity_list" 2>/dev/null; then restore+=("irq ${irq##*/} $aff"); fi
  done
  echo "# PIN_CPUS=1: $moved kernel threads and the movable interrupts on CPU 0 with the" \
    "writer and the report clients; the node's other threads and the checker on CPU $rest"
}
# pin_threads PID NAME CPUS OTHER_CPUS: the threads named NAME on CPUS, the others on OTHER_CPUS
pin_threads() {
  local t
  for t in /proc/"$1"/task/*; do
    if [ "$(cat "$t/comm")" = "$2" ]; then
      taskset -p -c "$3" "${t##*/}" > /dev/null
    else
      taskset -p -c "$4" "${t##*/}" > /dev/null
    fi
  done
}
if [ "${PIN_CPUS:-0}" = 1 ]; then pin_host; fi
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
  if [ "${PIN_CPUS:-0}" = 1 ]; then pin_threads $pid strop-writer 0 "$rest"; fi
  "$client" --port "$port" --mode grow --identity "$tmp/id.json" --from "$from" \
    --grow-to "$size" --connections 4 --node-pid $pid --data "$data" "${fifo[@]}" &
  cpid=$!
  if [ "${PIN_CPUS:-0}" = 1 ]; then
    sleep 0.2  # its threads are up: the checker alone goes to the other CPUs
    pin_threads $cpid bench-checker "$rest" 0
  fi
  wait $cpid
  kill -TERM $pid
  wait $pid || true
  pid=
  grep -o "storage: saved the index snapshot.*" "$tmp/log" || echo "(no snapshot written)"
  echo "## at $size signatures"
  "$here/node_startup_bench.sh" "$build" "$data" "$secs"
  from=$size
done
