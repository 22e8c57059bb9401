#!/usr/bin/env bash
# node_startup_bench.sh BUILD_DIR DATA_DIR [SECONDS] [--rebuild]: a strop-node's start-up and
# check cost on an existing store (docs/performance.md, "Index snapshot"), e.g. one grown by
# store_growth_bench --keep to 10M or 100M signatures. Not a test: prints figures only.
#
# Starts strop-node serve on DATA_DIR (rate limits off, HTTP and strop-udp/1 on loopback) and
# prints: the time from exec to "ready: listening" and to the first answered check, how the
# index came (loaded from index.snap, or rebuilt), the node's RSS (anonymous and file), the
# node's CPU per check over HTTP (2 keep-alive connections) and strop-udp/1 (16 in flight),
# unknown full messages, SECONDS each; then SIGTERM and the time to exit (the index snapshot's
# write, when something committed). With --rebuild, a second start with
# storage.index_snapshot = false times the rebuild from LMDB.
set -euo pipefail
build=${1:?usage: node_startup_bench.sh BUILD_DIR DATA_DIR [SECONDS] [--rebuild]}
data=${2:?usage: node_startup_bench.sh BUILD_DIR DATA_DIR [SECONDS] [--rebuild]}
secs=${3:-10}
rebuild=${4:-}
node=$build/node/strop-node
client=$build/tests/bench/node_bench_client
tmp=$(mktemp -d /tmp/strop-startup.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
rss() { awk '/^(RssAnon|RssFile):/ {printf "%s %.0f MiB  ", $1, $2/1024}' /proc/$1/status; }

run() {  # run LABEL SNAPSHOT(true|false)
  cat > "$tmp/node.toml" <<TOML
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
[storage]
index_snapshot = $2
expire_after_seconds = 0
TOML
  : > "$tmp/log"
  local t0 t1 t2 port uport
  t0=$(now)
  "$node" serve --data "$data" --config "$tmp/node.toml" --listen 127.0.0.1:0 \
    --udp-listen 127.0.0.1:0 2> "$tmp/log" &
  pid=$!
  until grep -q "ready: listening" "$tmp/log"; do
    kill -0 $pid 2>/dev/null || { cat "$tmp/log"; exit 1; }
    sleep 0.01
  done
  t1=$(now)
  port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/log" | head -1 | sed 's/.*://')
  uport=$(grep -o 'udp listener on [0-9.]*:[0-9]*' "$tmp/log" | sed 's/.*://')
  curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
    --data '{"v":1,"messages":[{"id":"0","sigs":["body/1:00000000000000000000000000000000"]}]}' \
    "http://127.0.0.1:$port/v1/check" || echo "(the first check failed)"
  t2=$(now)
  echo "## $1"
  echo "start to ready: $(awk "BEGIN{print $t1 - $t0}") s; to the first answered check: $(awk "BEGIN{print $t2 - $t0}") s"
  grep -o "storage: \(loaded the index snapshot\|indexed\|index snapshot\).*" "$tmp/log" || true
  echo "node at ready: $(rss $pid)"
  echo "### HTTP check, full message (body + fuzzy + 3 url), unknown, 2 connections"
  "$client" --port "$port" --mode check --connections 2 --seconds "$secs" --node-pid $pid
  echo "### strop-udp/1 check, full message, unknown, 16 in flight"
  "$client" --port "$port" --udp-port "$uport" --mode udp-check --inflight 16 --seconds "$secs" \
    --node-pid $pid
  echo "node after the checks: $(rss $pid)"
  t0=$(now)
  kill -TERM $pid
  wait $pid || true
  pid=
  echo "SIGTERM to exit: $(awk "BEGIN{print $(now) - $t0}") s"
  grep -o "storage: saved the index snapshot.*" "$tmp/log" || echo "(no snapshot written)"
}

echo "# $data: data.mdb $(du -m "$data/data.mdb" | cut -f1) MiB, index.snap $( (du -m "$data/index.snap" 2>/dev/null || echo 0) | cut -f1) MiB, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
run "start with the index snapshot" true
if [ "$rebuild" = --rebuild ]; then
  run "start with the index rebuilt from LMDB (storage.index_snapshot = false)" false
fi
