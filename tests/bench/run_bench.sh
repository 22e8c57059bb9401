#!/usr/bin/env bash
# run_bench.sh BUILD_DIR [PRELOAD] [SECONDS]: benchmarks a fresh strop-node (docs/performance.md
# "## Node"). Starts the node on a temporary data directory with rate limits off, stores
# PRELOAD signatures through the API, then measures checks (full message and exact-only),
# strop-udp/1 checks over the native UDP listener (before any report run grows the store),
# durable reports, and check latency during report bursts. Not a test: prints figures only.
set -euo pipefail
build=${1:?usage: run_bench.sh BUILD_DIR [PRELOAD] [SECONDS]}
preload=${2:-100000}
secs=${3:-10}
node=$build/node/strop-node
client=$build/tests/bench/node_bench_client
tmp=$(mktemp -d /tmp/strop-bench.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
cat > "$tmp/node.toml" <<TOML
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
[api]
max_messages = 1000
TOML
"$node" reporter add bench --trust 1.0 --out "$tmp/id.json" --data "$tmp/data" --config "$tmp/node.toml" 2>/dev/null
"$node" serve --data "$tmp/data" --config "$tmp/node.toml" --listen 127.0.0.1:0 --udp-listen 127.0.0.1:0 2> "$tmp/log" &
pid=$!
for _ in $(seq 200); do grep -q "ready: listening" "$tmp/log" && break; sleep 0.1; done
port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/log" | sed 's/.*://')
uport=$(grep -o 'udp listener on [0-9.]*:[0-9]*' "$tmp/log" | sed 's/.*://')
echo "# node pid $pid port $port, preload $preload, ${secs}s per run, $(nproc) cores"
"$client" --port "$port" --mode preload --identity "$tmp/id.json" --preload "$preload" --connections 2
echo "## GET /healthz (HTTP keep-alive floor: no decoding, no store), 2 connections"
"$client" --port "$port" --mode health --connections 2 --seconds "$secs" --node-pid $pid
echo "## check, all signatures of one message (body + fuzzy + 3 url), 1 message/request, 2 connections, 10% hits"
"$client" --port "$port" --mode check --connections 2 --seconds "$secs" --node-pid $pid --hit-ratio 0.1 --identity "$tmp/id.json" --preload 1000 | grep -v preload
echo "## check, all signatures of one message (body + fuzzy + 3 url), 1 message/request, 2 connections"
"$client" --port "$port" --mode check --connections 2 --seconds "$secs" --node-pid $pid
echo "## check, exact-only (body/1), 1 message/request, 2 connections"
"$client" --port "$port" --mode check --exact --connections 2 --seconds "$secs" --node-pid $pid
echo "## check, full messages, 50 messages/request (milter batching), 2 connections"
"$client" --port "$port" --mode check --messages 50 --connections 2 --seconds "$secs" --node-pid $pid
echo "## check, 1 connection (latency)"
"$client" --port "$port" --mode check --connections 1 --seconds "$secs" --node-pid $pid
echo "## strop-udp/1 check, full message (body + fuzzy + 3 url), 1 message/datagram, 16 in flight"
"$client" --port "$port" --udp-port "$uport" --mode udp-check --inflight 16 --seconds "$secs" --node-pid $pid
echo "## strop-udp/1 check, full message, 1 message/datagram, 16 in flight, 10% hits"
"$client" --port "$port" --udp-port "$uport" --mode udp-check --inflight 16 --seconds "$secs" --node-pid $pid --hit-ratio 0.1 --identity "$tmp/id.json" --preload 1000 | grep -v preload
echo "## strop-udp/1 check, exact-only (body/1), 1 message/datagram, 16 in flight"
"$client" --port "$port" --udp-port "$uport" --mode udp-check --exact --inflight 16 --seconds "$secs" --node-pid $pid
echo "## strop-udp/1 check, full message, 1 in flight (latency)"
"$client" --port "$port" --udp-port "$uport" --mode udp-check --inflight 1 --seconds "$secs" --node-pid $pid
echo "## strop-udp/1 check, full messages, 5 messages/datagram (1,000 bytes), 16 in flight"
"$client" --port "$port" --udp-port "$uport" --mode udp-check --messages 5 --inflight 16 --seconds "$secs" --node-pid $pid
echo "## durable reports, 1000 signatures/request, 4 connections"
"$client" --port "$port" --mode report --identity "$tmp/id.json" --messages 1000 --connections 4 --seconds "$secs" --node-pid $pid
echo "## durable reports, 1 signature/request, 16 connections"
"$client" --port "$port" --mode report --identity "$tmp/id.json" --messages 1 --connections 16 --seconds "$secs" --node-pid $pid
echo "## check latency (1 connection) during report bursts (2 connections x 1000 signatures/request)"
"$client" --port "$port" --mode mixed --identity "$tmp/id.json" --messages 1 --report-messages 1000 --connections 1 --report-connections 2 --seconds "$secs"
kill -TERM $pid; wait $pid; echo "# node exit $?"
