#!/usr/bin/env bash
# lifecycle.sh: strop-milter's lifecycle and defaults, driven by miltertest (no MTA, no clamd,
# no node; loopback and a temp directory only). docs/milter.md "SIGHUP reloads" and
# "Defaults that pass mail".
#   1. Defaults with no clamd (clamd enabled, its socket absent, on_failure left at its
#      default): every message is accepted with X-Strop-Skipped (never 451), the start-up
#      warning is logged once, /healthz says "degraded: clamd (...)" with the whole errno
#      text, and sd_notify READY=1 reaches a NOTIFY_SOCKET the test binds.
#   2. SIGHUP under load: miltertest workers send messages while SIGHUP is sent again and
#      again (each waited for as a reload); no message fails, the milter keeps running; a
#      broken rules file is an error and the old rules stay; a changed rules file tags the
#      next message; log.level = "warn" silences the per-message info lines; SIGTERM exits 0.
#   3. A milter socket in a missing directory: exit 69 and the errno text, not cut.
#   lifecycle.sh --milter PATH
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
milter_test_args "$0" "$@"

T=$(mktemp -d /tmp/strop-milter-life.XXXXXX)
MPID= NPID= WORKERS=()
FAILED=0
fail() { log "FAIL: $*"; FAILED=1; }
cleanup() {
  for w in "${WORKERS[@]}"; do kill "$w" 2>/dev/null; done
  [ -n "$MPID" ] && kill -KILL "$MPID" 2>/dev/null
  [ -n "$NPID" ] && kill "$NPID" 2>/dev/null
  if [ "$FAILED" = 0 ]; then rm -rf "$T"; else log "logs kept in $T"; fi
}
trap cleanup EXIT

one() {  # one EXPECT: one message through the milter's socket
  miltertest -D "SOCK=unix:$T/milter.sock" -D "LIB=$HERE/mt_lib.lua" -D "EXPECT=$1" \
    -s "$HERE/lifecycle/one_message.lua" 2>&1
}
count() { grep -c -- "$1" "$T/milter.log"; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }  # for wait_until: re-counted at every poll
metrics_port() { sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$T/milter.log" | head -1; }
http_get() {  # PORT PATH: the response body
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&- 3>&-
}
stop_milter() {  # SIGTERM; sets RC
  term_wait "$MPID" 30
  MPID=
}

# ---- 1. defaults with no clamd ------------------------------------------------------------
# sd_notify listener: a unix datagram socket the milter's NOTIFY_SOCKET points at.
python3 - "$T/notify.sock" >"$T/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
NPID=$!
wait_until 10 test -S "$T/notify.sock" || fail "notify socket"
cat > "$T/defaults.toml" <<C
[milter]
socket = "unix:$T/milter.sock"
[clamd]
addresses = ["unix:$T/no-clamd/clamd.ctl"]   # no clamd here; enabled and on_failure: defaults
[node]
urls = []
[buffer]
spool_dir = "$T"
[quarantine]
directory = "$T/q"
[metrics]
listen = "127.0.0.1:0"
C
NOTIFY_SOCKET="$T/notify.sock" "$MILTER" --config "$T/defaults.toml" >"$T/milter.log" 2>&1 &
MPID=$!
wait_until 20 test -S "$T/milter.sock" || { cat "$T/milter.log" >&2; fail "milter did not start"; exit 1; }
for i in 1 2 3; do
  out=$(one skipped); grep -q '^PASS' <<<"$out" || fail "defaults, message $i: $out"
done
n=$(count 'clamd is enabled but unreachable at start')
[ "$n" = 1 ] || fail "start-up warning logged $n times, want 1"
grep -q ' warn strop-milter: clamd is enabled but unreachable at start: .*No such file or directory;' \
  "$T/milter.log" || fail "warning without the whole errno text: $(grep unreachable "$T/milter.log")"
health=$(http_get "$(metrics_port)" /healthz)
[[ $health == "degraded: clamd ("*"No such file or directory"*")" ]] || fail "healthz: '$health'"
metrics=$(http_get "$(metrics_port)" /metrics)
grep -q '^strop_milter_stage_up{stage="clamd"} 0$' <<<"$metrics" || fail "stage_up metric"
grep -q '^strop_milter_build_info{version="' <<<"$metrics" || fail "build_info metric"
n=$(grep -c 'verdict=accept' "$T/milter.log")
[ "$n" = 3 ] || fail "want 3 accepted messages in the log, got $n"
grep -q 'READY=1' "$T/notify.log" || fail "no READY=1 on NOTIFY_SOCKET: $(cat "$T/notify.log")"
# Layout: RFC 3339 time with zone, level, program.
head -1 "$T/milter.log" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} info strop-milter: ' ||
  fail "log layout: $(head -1 "$T/milter.log")"
kill -HUP "$MPID"
wait_until 20 grep -q 'RELOADING=1' "$T/notify.log" || fail "no RELOADING=1 after SIGHUP"
stop_milter
[ "$RC" = 0 ] || fail "defaults: exit $RC after SIGTERM"
grep -q 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1"
[ "$FAILED" = 0 ] && log "PASS: defaults without clamd: mail flows, one warning, degraded health, sd_notify"

# ---- 2. SIGHUP under load -----------------------------------------------------------------
rm -f "$T/milter.sock"
printf 'body  LIFE_MARKER  /lifecycle-marker-phrase/\nscore LIFE_MARKER  0.5\n' >"$T/rules"
cat > "$T/load.toml" <<C
[milter]
socket = "unix:$T/milter.sock"
[clamd]
enabled = false
[node]
urls = []
[rules]
file = "$T/rules"
[buffer]
spool_dir = "$T"
[quarantine]
directory = "$T/q"
C
"$MILTER" --config "$T/load.toml" >"$T/milter.log" 2>&1 &
MPID=$!
wait_until 20 test -S "$T/milter.sock" || { cat "$T/milter.log" >&2; fail "milter did not start"; exit 1; }
out=$(one accept); grep -q '^PASS' <<<"$out" || fail "before reloads: $out"
: >"$T/worker-failures"
for w in 1 2 3; do
  (
    while [ ! -e "$T/stop-workers" ]; do
      if out=$(one ok) && grep -q '^PASS' <<<"$out"; then echo ok >>"$T/worker-$w"
      else printf 'worker %s: %s\n' "$w" "$out" >>"$T/worker-failures"; fi
    done
  ) &
  WORKERS+=($!)
done
worker_messages() { [ "$(cat "$T"/worker-[0-9] 2>/dev/null | wc -l)" -ge "$1" ]; }
for i in $(seq 1 10); do
  # Each SIGHUP lands while messages flow: wait until the workers sent a few more.
  wait_until 60 worker_messages $((i * 5)) || fail "the workers stalled before reload $i"
  kill -HUP "$MPID"
  wait_until 30 at_least 'reloaded configuration' "$i" || fail "reload $i not logged"
done
# A broken rules file: an error, the old rules kept.
printf 'body  BROKEN  /unclosed\n' >"$T/rules"
kill -HUP "$MPID"
wait_until 30 grep -q 'keeping the running configuration and rules' "$T/milter.log" ||
  fail "no error for the broken rules file"
# A changed rules file: the marker now scores 6 (>= tag_threshold 5).
printf 'body  LIFE_MARKER  /lifecycle-marker-phrase/\nscore LIFE_MARKER  6\n' >"$T/rules"
kill -HUP "$MPID"
wait_until 30 at_least 'reloaded configuration' 11 || fail "reload 11 not logged"
touch "$T/stop-workers"
for w in "${WORKERS[@]}"; do wait "$w"; done
WORKERS=()
done_n=$(cat "$T"/worker-[0-9] 2>/dev/null | wc -l)
log "SIGHUP under load: $done_n messages by 3 workers, $(wc -l <"$T/worker-failures") failures, 12 SIGHUPs"
[ -s "$T/worker-failures" ] && fail "messages failed during reloads: $(head -5 "$T/worker-failures")"
[ "$done_n" -gt 0 ] || fail "the workers sent nothing"
kill -0 "$MPID" 2>/dev/null || fail "the milter stopped"
out=$(one tag); grep -q '^PASS' <<<"$out" || fail "after the rules reload, not tagged: $out"
# log.level = "warn": the per-message info lines stop (polled: a message through the milter
# until one leaves no verdict line). Then a bad level is an error and changes nothing.
sed 's/^\[rules\]/[log]\nlevel = "warn"\n[rules]/' "$T/load.toml" >"$T/load-warn.toml"
cp "$T/load-warn.toml" "$T/load.toml"
kill -HUP "$MPID"
silent_message() {
  local before; before=$(count 'verdict=')
  grep -q '^PASS' <<<"$(one tag)" && [ "$(count 'verdict=')" = "$before" ]
}
wait_until 30 silent_message || fail "log.level = warn not in effect"
printf '[log]\nlevel = "loud"\n' >"$T/load.toml"
kill -HUP "$MPID"
wait_until 30 grep -q 'log.level: unknown log level "loud"' "$T/milter.log" || fail "no error for the bad level"
out=$(one tag); grep -q '^PASS' <<<"$out" || fail "after the bad level, the running rules changed: $out"
stop_milter
[ "$RC" = 0 ] || fail "exit $RC after SIGTERM"
grep -q 'Sanitizer' "$T/milter.log" && fail "sanitizer report"
[ "$FAILED" = 0 ] && log "PASS: SIGHUP under load"

# ---- 3. start-up error with errno ---------------------------------------------------------
"$MILTER" --socket "unix:$T/missing-dir/m.sock" --config "$T/load-warn.toml" >"$T/err.log" 2>&1
rc=$?
[ "$rc" = 69 ] || fail "missing socket directory: exit $rc, want 69"
grep -q "cannot open milter socket unix:$T/missing-dir/m.sock: directory $T/missing-dir: No such file or directory$" \
  "$T/err.log" || fail "socket error text: $(cat "$T/err.log")"
[ "$FAILED" = 0 ] && log "PASS: start-up error names the errno"
[ "$FAILED" = 0 ] && echo PASS
exit "$FAILED"
