#!/usr/bin/env bash
# miltertest.sh: runs the Lua scripts in tests/milter/miltertest/ with miltertest (the MTA
# side of the milter protocol) against one long-running strop-milter on a unix socket in a
# temp directory (no MTA, no clamd). Exit 0 when every script printed PASS.
#   miltertest.sh --milter PATH
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
milter_test_args "$0" "$@"

T=$(mktemp -d /tmp/strop-miltertest.XXXXXX)
MPID=
cleanup() {
  [ -n "$MPID" ] && stop_pid "$MPID" 0
  if [ "${FAILED:-0}" = 0 ]; then rm -rf "$T"; else log "logs kept in $T"; fi
}
trap cleanup EXIT

cat > "$T/mt.rules" <<'R'
body  MT_MARKER  /mt-marker-phrase/
score MT_MARKER  6
R
cat > "$T/milter.toml" <<C
[milter]
socket = "unix:$T/milter.sock"
[clamd]
enabled = false
[node]
urls = []
[rules]
file = "$T/mt.rules"
[policy]
subject_tag = "[SPAM]"
[bypass]
networks = ["10.0.0.0/8"]
recipients = ["abuse@*"]
[buffer]
spool_dir = "$T"
[metrics]
listen = "127.0.0.1:0"   # a second thread, for the SIGTERM check below
C
"$MILTER" --config "$T/milter.toml" >"$T/milter.log" 2>&1 &
MPID=$!
wait_until 20 test -S "$T/milter.sock" || { cat "$T/milter.log" >&2; exit 1; }

FAILED=0
for script in "$HERE"/miltertest/*.lua; do
  out=$(miltertest -D "SOCK=unix:$T/milter.sock" -D "LIB=$HERE/mt_lib.lua" -D EXPECT_NR=1 \
    -s "$script" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  if [ $rc != 0 ] || ! grep -q '^PASS' <<<"$out"; then
    log "FAIL: $(basename "$script") (rc=$rc)"
    FAILED=1
  fi
done
if [ "$FAILED" = 0 ]; then
  # Every message the scripts completed left one log line with a verdict.
  n=$(grep -c 'verdict=' "$T/milter.log")
  log "milter logged $n verdict lines"
  [ "$n" -ge 7 ] || { log "FAIL: expected at least 7 verdict lines"; cat "$T/milter.log"; FAILED=1; }
fi
# SIGTERM: a clean shutdown (libmilter returns within ~5 s), exit 0, and under ASan no leak
# report. A signal delivered to a thread without libmilter's mask would kill it instead.
term_wait "$MPID" 15
rc=$RC
MPID_DONE=$MPID
MPID=
if [ "$rc" != 0 ] || ! grep -q 'info strop-milter: stopped' "$T/milter.log" || grep -q 'Sanitizer' "$T/milter.log"; then
  log "FAIL: shutdown on SIGTERM (exit $rc)"
  tail -20 "$T/milter.log" >&2
  kill -KILL "$MPID_DONE" 2>/dev/null
  FAILED=1
else
  log "PASS: clean shutdown on SIGTERM"
fi
exit $FAILED
