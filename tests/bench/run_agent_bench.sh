#!/usr/bin/env bash
# run_agent_bench.sh BUILD_DIR [ROUNDS] [GAP_US]: one agent check against the raw round trip
# (docs/performance.md "Agent HTTP checks"). Starts a fresh strop-node (rate limits off) with
# HTTP and strop-udp/1 listeners on loopback, then runs agent_check_bench: the native
# signatures of 200 ham messages checked one at a time over a raw keep-alive socket, through
# agent::Client over http://, and over udp://. Not a test: prints figures only.
set -euo pipefail
build=${1:?usage: run_agent_bench.sh BUILD_DIR [ROUNDS] [GAP_US]}
rounds=${2:-10}
gap=${3:-0}
node=$build/node/strop-node
bench=$build/tests/bench/agent_check_bench
tmp=$(mktemp -d /tmp/strop-agent-bench.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
cat > "$tmp/node.toml" <<TOML
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
TOML
"$node" serve --data "$tmp/data" --config "$tmp/node.toml" --listen 127.0.0.1:0 --udp-listen 127.0.0.1:0 2> "$tmp/log" &
pid=$!
for _ in $(seq 200); do grep -q "ready: listening" "$tmp/log" && break; sleep 0.1; done
port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/log" | sed 's/.*://')
uport=$(grep -o 'udp listener on [0-9.]*:[0-9]*' "$tmp/log" | sed 's/.*://')
echo "# node pid $pid port $port udp $uport, $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
"$bench" --port "$port" --udp-port "$uport" --rounds "$rounds" --node-pid "$pid" --gap-us "$gap"
kill -TERM $pid; wait $pid; echo "# node exit $?"
