#!/usr/bin/env bash
# e2e.sh: strop-milter end to end through a real MTA: a private Postfix (smtpd_milters ->
# strop-milter, milter_default_action = tempfail), clamd with a test-written EICAR database
# and a strop-node on a temporary LMDB, all on loopback with random free ports in a temp
# directory; mail is sent with swaks and read back from the Maildir.
#
#   e2e.sh --milter PATH [--node PATH] [--corpus DIR] [--keep]
#
# Four milters, one Postfix listener each:
#   A  defaults (clamd fail-closed, node lookup fail-open, reject >= 15, tag >= 5), a spam
#      trap that auto-reports to the node, a small rules file, metrics
#   B  clamd fail-open, spam_action = tag with a subject tag, no node
#   C  viruses quarantined to a directory (message + JSON sidecar)
#   D  a node that accepts connections and never answers (deadline test); spam quarantined
#      on the MTA's hold queue
#   E  spamd (SpamAssassin over SPAMC) added to the score, fail-open (skipped with a message
#      when spamd is not installed, or STROP_E2E_SPAMD=0)
# Exit: 0 all cases passed, 1 a case failed, 77 skipped (not root / tools missing).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"

MILTER= NODE= CORPUS= KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --milter) MILTER=$2; shift 2 ;;
    --node) NODE=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 --milter PATH [--node PATH] [--corpus DIR] [--keep]" >&2; exit 64 ;;
  esac
done
[ -x "$MILTER" ] || { echo "strop-milter not found: $MILTER" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (postfix, clamd)"; exit 77; fi
for t in postfix swaks clamd curl; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/setup.sh)"; exit 77; }
done

T=$(mktemp -d /tmp/strop-milter-e2e.XXXXXX)
chmod 755 "$T"  # smtpd (user postfix) must reach the milter sockets
FAILS=0 PASSES=0
MILTER_PIDS=()
cleanup() {
  local p
  for p in "${MILTER_PIDS[@]}"; do stop_pid "$p" 0; done
  lib_cleanup
  if [ "$KEEP" = 1 ] || [ "$FAILS" -gt 0 ]; then
    log "logs kept in $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

pass() { PASSES=$((PASSES + 1)); log "PASS: $*"; }
fail() { FAILS=$((FAILS + 1)); log "FAIL: $*"; }
check() {  # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

PA=$(free_port) PB=$(free_port) PC=$(free_port) PD=$(free_port) PE=$(free_port) SPAMD_PORT=$(free_port)
CLAMD_PORT=$(free_port) NODE_PORT=$(free_port) HUNG_PORT=$(free_port) METRICS_PORT=$(free_port)

# ---- clamd ----
clamd_setup "$T/clam" "$CLAMD_PORT"
clamd_start "$T/clam" "$CLAMD_PORT"
log "clamd up on $CLAMD_PORT and $T/clam/clamd.sock"

# ---- strop-node ----
HAVE_NODE=0
if [ -n "$NODE" ] && [ -x "$NODE" ]; then
  mkdir -p "$T/node"
  if "$NODE" reporter add e2e-milter --trust 1 --out "$T/milter.identity" --data "$T/node" \
       >"$T/node-admin.log" 2>&1; then
    "$NODE" serve --data "$T/node" --listen "127.0.0.1:$NODE_PORT" >"$T/node.log" 2>&1 &
    NODE_PID=$!
    LIB_PIDS+=("$NODE_PID")
    if wait_until 60 curl -sf "http://127.0.0.1:$NODE_PORT/healthz" -o /dev/null; then
      HAVE_NODE=1
      log "strop-node up on $NODE_PORT"
    else
      cat "$T/node.log" >&2
      fail "strop-node did not become healthy"
    fi
  else
    cat "$T/node-admin.log" >&2
    fail "strop-node reporter add failed"
  fi
else
  log "SKIP (node cases): strop-node is not built; the lookup, report and node-down cases need it"
fi

# ---- spamd (optional stage) ----
HAVE_SPAMD=0
spamd_pong() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING SPAMC/1.5\r\n\r\n' >&3
  IFS= read -r -t 5 reply <&3 || { exec 3<&- 3>&-; return 1; }
  exec 3<&- 3>&-
  [[ $reply == *PONG* ]]
}
if [ "${STROP_E2E_SPAMD:-1}" != 0 ] && command -v spamd >/dev/null; then
  mkdir -p "$T/sa"
  chmod 777 "$T/sa"
  spamd --listen="127.0.0.1:$SPAMD_PORT" --allowed-ips=127.0.0.1 -u debian-spamd --local \
    --nouser-config --max-children=1 --min-children=1 --pidfile="$T/sa/spamd.pid" \
    --syslog="$T/sa/spamd.log" >"$T/sa/spamd.out" 2>&1 &
  SPAMD_PID=$!
  LIB_PIDS+=("$SPAMD_PID")
  if wait_until 120 spamd_pong "$SPAMD_PORT"; then
    HAVE_SPAMD=1
    log "spamd up on $SPAMD_PORT"
  else
    cat "$T/sa/spamd.out" >&2
    fail "spamd did not answer PING"
  fi
else
  log "SKIP (spamd cases): spamd not installed or STROP_E2E_SPAMD=0"
fi

# A "node" that accepts TCP connections and never answers.
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $HUNG_PORT)); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
" &
LIB_PIDS+=($!)
wait_until 10 tcp_open "$HUNG_PORT" || die "hung node did not listen"

# ---- rules and milters ----
cat > "$T/e2e.rules" <<'R'
# rules used by the end-to-end test
body    E2E_MARKER    /strop-e2e-rule-marker/i
header  __E2E_SUBJ    Subject =~ /\be2e\b/i
meta    E2E_META      E2E_MARKER && __E2E_SUBJ
score   E2E_MARKER    6
score   E2E_META      0.5
describe E2E_MARKER   the end-to-end test's marker phrase
R
mkdir -p "$T/quarantine"
NODE_URLS='[]'
[ "$HAVE_NODE" = 1 ] && NODE_URLS="[\"http://127.0.0.1:$NODE_PORT\"]"

write_config() {  # [BUDGET=ms] [CLAMD_EXTRA=toml] write_config NAME EXTRA_TOML
  local name=$1 extra=$2
  # clamd fail-closed unless CLAMD_EXTRA says otherwise (strop-milter's default is accept).
  local CLAMD_FAIL_CLOSED='on_failure = "tempfail"'
  cat > "$T/$name.toml" <<C
[milter]
socket = "unix:$T/$name.sock"
socket_mode = "0666"
[log]
level = "info"
[budget]
total_ms = ${BUDGET:-8000}
[buffer]
spool_dir = "$T"
[clamd]
addresses = ["unix:$T/clam/clamd.sock", "127.0.0.1:$CLAMD_PORT"]
timeout_ms = 5000
${CLAMD_EXTRA:-$CLAMD_FAIL_CLOSED}
[rules]
file = "$T/e2e.rules"
[quarantine]
directory = "$T/quarantine"
${QUARANTINE_EXTRA:-}
$extra
C
}
write_config a "
[node]
urls = $NODE_URLS
identity = \"$([ "$HAVE_NODE" = 1 ] && echo "$T/milter.identity")\"
timeout_ms = 2000
spam_traps = [\"trap@test.local\"]
[metrics]
listen = \"127.0.0.1:$METRICS_PORT\""
# B: clamd fail-open, spam tagged instead of rejected.
CLAMD_EXTRA='on_failure = "accept"' write_config b "
[node]
urls = []
[policy]
spam_action = \"tag\"
subject_tag = \"[SPAM]\""
write_config c "
[node]
urls = []
[policy]
virus_action = \"quarantine\""
QUARANTINE_EXTRA='method = "hold"' write_config d "
[policy]
spam_action = \"quarantine\"
[node]
urls = [\"http://127.0.0.1:$HUNG_PORT\"]
timeout_ms = 1000"

BUDGET=15000 write_config e "
[node]
urls = []
[spamd]
enabled = true
address = \"127.0.0.1:$SPAMD_PORT\"
timeout_ms = 10000"
MILTERS="a b c d"
[ "$HAVE_SPAMD" = 1 ] && MILTERS="a b c d e"
for m in $MILTERS; do
  "$MILTER" --config "$T/$m.toml" >"$T/milter-$m.log" 2>&1 &
  MILTER_PIDS+=($!)
done
for m in $MILTERS; do
  wait_until 60 test -S "$T/$m.sock" || { cat "$T/milter-$m.log" >&2; die "milter $m did not start"; }
done
log "milters up"

# --print-config shows the effective values, flags over the file.
"$MILTER" --config "$T/a.toml" --socket inet:9999@127.0.0.1 --print-config > "$T/printed.toml"
check "--print-config shows flag overrides" grep -qx 'socket = "inet:9999@127.0.0.1"' "$T/printed.toml"
check "--print-config keeps file values" grep -qx 'spam_traps = \["trap@test.local"\]' "$T/printed.toml"

# ---- postfix ----
pf_setup "$T/pf" "$PA=unix:$T/a.sock" "$PB=unix:$T/b.sock" "$PC=unix:$T/c.sock" "$PD=unix:$T/d.sock" \
  "$PE=unix:$T/e.sock"
pf_start "$T/pf" "$PA"
log "postfix up: A=$PA B=$PB C=$PC D=$PD"

# send PORT TAG [swaks args...]: sends one message tagged X-Test-Case: TAG. Sets RC and OUT.
send() {
  local port=$1 tag=$2; shift 2
  OUT=$(swaks --server "127.0.0.1:$port" --from sender@example.org --helo client.example \
          --timeout 60 --add-header "X-Test-Case: $tag" "$@" 2>&1)
  RC=$?
  printf '%s\n' "$OUT" > "$T/swaks-$tag.log"
}
hdr() { headers_of "$1" | tr -d '\r'; }

# ---- 1. clean mail: delivered with X-Scanned-By and X-Spam-Score, no X-Spam-Flag ----
send "$PA" clean --to u@test.local --header "Subject: lunch on friday" \
  --add-header "X-Spam-Flag: YES" --add-header "X-Spam-Score: -100 (forged)" \
  --body "Shall we meet for lunch on Friday at the usual place? Regards, Bob"
if [ $RC = 0 ] && f=$(delivered_with "$T/pf" clean); then
  h=$(hdr "$f")
  check "clean: X-Scanned-By" grep -q '^X-Scanned-By: strop-milter [0-9]' <<<"$h"
  check "clean: X-Spam-Score" grep -qx 'X-Spam-Score: 0 ()' <<<"$h"
  check "clean: X-Spam-Status" grep -q '^X-Spam-Status: No, score=0.0 required=5.0' <<<"$h"
  check "clean: no X-Spam-Flag (forged one removed)" bash -c "! grep -qi '^X-Spam-Flag' <<<\"\$0\"" "$h"
  check "clean: forged X-Spam-Score removed" bash -c "! grep -q 'forged' <<<\"\$0\"" "$h"
else
  fail "clean mail not delivered (swaks rc=$RC)"
fi

# ---- 2. a rules-file hit tags the message ----
send "$PA" rulehit --to u@test.local --header "Subject: e2e marker" \
  --body "this carries the strop-e2e-rule-marker phrase"
if [ $RC = 0 ] && f=$(delivered_with "$T/pf" rulehit); then
  h=$(hdr "$f")
  check "rule hit: tagged" grep -qx 'X-Spam-Flag: YES' <<<"$h"
  check "rule hit: score and rule names" grep -qx 'X-Spam-Score: 6.5 (\*\*\*\*\*\*) E2E_MARKER,E2E_META' <<<"$h"
else
  fail "rule-hit mail not delivered (swaks rc=$RC)"
fi

# ---- 3. EICAR as an attachment, and inside a zip: rejected with the virus name ----
/usr/bin/python3 -c "
import zipfile
z = zipfile.ZipFile('$T/eicar.zip', 'w', zipfile.ZIP_DEFLATED)
z.write('$T/clam/eicar.com', 'eicar.com'); z.close()"
send "$PA" eicar --to u@test.local --header "Subject: eicar" --attach "$T/clam/eicar.com"
check "EICAR attachment rejected (rc=$RC)" test "$RC" = 26
check "EICAR reply names the virus" grep -q '554 5.7.1 Virus found: Eicar-Test-Signature' <<<"$OUT"
send "$PA" eicarzip --to u@test.local --header "Subject: eicar zip" --attach "$T/eicar.zip"
check "EICAR in zip rejected (rc=$RC)" test "$RC" = 26
check "EICAR-in-zip reply names the virus" grep -q '554 5.7.1 Virus found: Eicar-Test-Signature' <<<"$OUT"

# ---- 4. GTUBE: rejected by A, tagged by B (per policy) ----
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
send "$PA" gtube --to u@test.local --header "Subject: gtube" --body "$GTUBE"
check "GTUBE rejected by the reject policy (rc=$RC)" test "$RC" = 26
check "GTUBE reply is 550 5.7.1" grep -q '550 5.7.1 Message rejected as spam (score 1000)' <<<"$OUT"
send "$PB" gtubetag --to u@test.local --header "Subject: gtube" --body "$GTUBE"
if [ $RC = 0 ] && f=$(delivered_with "$T/pf" gtubetag); then
  h=$(hdr "$f")
  check "GTUBE tagged by the tag policy" grep -qx 'X-Spam-Flag: YES' <<<"$h"
  check "GTUBE X-Spam-Score in the seed's form" \
    grep -qxF "X-Spam-Score: 1000 ($(printf '%.0s*' {1..40})) GTUBE" <<<"$h"
  check "GTUBE subject tagged" grep -qx 'Subject: \[SPAM\] gtube' <<<"$h"
else
  fail "GTUBE not delivered by the tag policy (swaks rc=$RC)"
fi

# ---- 5. quarantine: the message and its sidecar are in the directory ----
send "$PC" quarantine --to u@test.local --header "Subject: quarantine me" --attach "$T/clam/eicar.com"
check "quarantined virus accepted at SMTP (rc=$RC)" test "$RC" = 0
side=$(ls "$T"/quarantine/*.json 2>/dev/null | head -1)
if [ -n "$side" ]; then
  check "quarantine sidecar names the virus" grep -q '"virus": "Eicar-Test-Signature' "$side"
  check "quarantine sidecar has the envelope" grep -q '"from": "<sender@example.org>"' "$side"
  check "quarantined message stored" grep -q 'X-Test-Case: quarantine' "${side%.json}.eml"
else
  fail "no quarantine sidecar in $T/quarantine"
fi
check "quarantined message not delivered" bash -c "! grep -l -s 'X-Test-Case: quarantine' $T/pf/mail/sink/new/* >/dev/null"

# ---- 6. a corpus spam reported to the node, then a mutated copy ----
if [ "$HAVE_NODE" = 1 ] && [ -n "$CORPUS" ] && [ -f "$CORPUS/spam/00004.eac8de8d759b7e74154f142194282724.eml" ]; then
  src="$CORPUS/spam/00004.eac8de8d759b7e74154f142194282724.eml"
  sed '1{/^From /d}' "$src" > "$T/spam.eml"      # drop the mbox "From " line
  # Spammer-style mutation: another victim, password and tracking id, a new Subject tag,
  # and a hash-buster line.
  sed -e 's/zzzz@spamassassin\.taint\.org/victim@test.local/g' -e 's/760382/418093/g' \
      -e 's/ pviqg$/ kqzmw/' "$T/spam.eml" > "$T/mutated.eml"
  printf '\nref: 9f8e7d6c5b4a3f2e1d0c\n' >> "$T/mutated.eml"
  send "$PA" report --to trap@test.local --data "$T/spam.eml"
  check "corpus spam to the spam trap accepted (rc=$RC)" test "$RC" = 0
  check "spam trap message reported to the node" \
    wait_until 10 grep -q 'reported=yes' "$T/milter-a.log"
  send "$PA" mutated --to u@test.local --data "$T/mutated.eml"
  if [ $RC = 0 ] && f=$(delivered_with "$T/pf" mutated); then
    h=$(hdr "$f")
    check "mutated copy tagged by the node's verdict" grep -qx 'X-Spam-Flag: YES' <<<"$h"
    check "mutated copy hit STROP_NODE" grep -q '^X-Spam-Score: .*STROP_NODE' <<<"$h"
  elif [ $RC = 26 ] && grep -q '550 5.7.1' <<<"$OUT"; then
    pass "mutated copy rejected by the node's verdict"
  else
    fail "mutated copy neither tagged nor rejected (swaks rc=$RC)"
  fi
elif [ "$HAVE_NODE" = 1 ]; then
  fail "corpus spam not found under '$CORPUS'"
fi

# ---- 7. a node that never answers: mail still flows within the budget ----
# (A body long enough to have signatures, so the lookup really happens.)
TEXT="Dear colleagues, the quarterly planning meeting moves to Thursday at ten in the large
conference room. Please bring the updated budget figures and the draft schedule for the
migration project, and send agenda items to the coordinator by Wednesday noon. Thanks, Bob"
send "$PD" hungnode --to u@test.local --header "Subject: hung node" --body "$TEXT"
if [ $RC = 0 ] && f=$(delivered_with "$T/pf" hungnode); then
  check "hung node: delivered with the lookup skipped" \
    grep -q '^X-Strop-Skipped: lookup (timeout' <(hdr "$f")
else
  fail "hung node: mail not delivered (swaks rc=$RC)"
fi

# ---- 7b. quarantine on the MTA's hold queue (smfi_quarantine) ----
send "$PD" hold --to u@test.local --header "Subject: hold me" --body "$GTUBE"
check "held spam accepted at SMTP (rc=$RC)" test "$RC" = 0
check "held spam is on Postfix's hold queue" \
  wait_until 20 bash -c "postqueue -c $T/pf/etc -p | grep -q '^[0-9A-F]*!'"
check "held spam not delivered" bash -c "! grep -l -s 'X-Test-Case: hold' $T/pf/mail/sink/new/* >/dev/null"

# ---- 8. node stopped: mail still flows ----
if [ "$HAVE_NODE" = 1 ]; then
  stop_pid "$NODE_PID" 10
  send "$PA" nodedown --to u@test.local --header "Subject: node down" --body "$TEXT"
  if [ $RC = 0 ] && f=$(delivered_with "$T/pf" nodedown); then
    check "node down: delivered with the lookup skipped" \
      grep -q '^X-Strop-Skipped: lookup (' <(hdr "$f")
  else
    fail "node down: mail not delivered (swaks rc=$RC)"
  fi
fi

# ---- 9. spamd's score is added as the SPAMD rule; spamd down: fail-open ----
if [ "$HAVE_SPAMD" = 1 ]; then
  send "$PE" spamd --to u@test.local --header "Subject: spamd" --body "$TEXT"
  if [ $RC = 0 ] && f=$(delivered_with "$T/pf" spamd 60); then
    check "spamd: SPAMD rule in X-Spam-Score" grep -q '^X-Spam-Score: .*SPAMD' <(hdr "$f")
  else
    fail "spamd: mail not delivered (swaks rc=$RC)"
  fi
  stop_pid "$SPAMD_PID" 10
  send "$PE" spamddown --to u@test.local --header "Subject: spamd down" --body "$TEXT"
  if [ $RC = 0 ] && f=$(delivered_with "$T/pf" spamddown); then
    check "spamd down: delivered with the spamd stage skipped" \
      grep -q '^X-Strop-Skipped: spamd (' <(hdr "$f")
  else
    fail "spamd down: mail not delivered (swaks rc=$RC)"
  fi
fi

# ---- 10. metrics ----
metrics=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics")
check "metrics: rejects counted" grep -Eq '^strop_milter_messages_total\{verdict="reject"\} [3-9]' <<<"$metrics"
check "metrics: clamd latency histogram" grep -q '^strop_milter_stage_seconds_count{stage="clamd"}' <<<"$metrics"
check "logs: one line per message with the queue id" \
  grep -Eq 'queue=[0-9A-F]{6,} verdict=reject score=0 rules=- .*virus=Eicar' "$T/milter-a.log"

# ---- 11. clamd stopped: tempfail when fail-closed, delivered with a header when fail-open ----
stop_pid "$CLAMD_PID" 10
send "$PA" clamdown-closed --to u@test.local --header "Subject: clamd down" --body "hi"
check "clamd down, fail-closed: tempfailed (rc=$RC)" grep -q '451 4.7.1' <<<"$OUT"
send "$PB" clamdown-open --to u@test.local --header "Subject: clamd down" --body "hi"
if [ $RC = 0 ] && f=$(delivered_with "$T/pf" clamdown-open); then
  check "clamd down, fail-open: delivered with X-Strop-Skipped" \
    grep -q '^X-Strop-Skipped: clamd (unavailable' <(hdr "$f")
else
  fail "clamd down, fail-open: not delivered (swaks rc=$RC)"
fi

log "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
