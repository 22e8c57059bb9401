#!/usr/bin/env bash
# sendmail_e2e.sh: strop-milter end to end behind a real Sendmail (opt-in; not in ctest, not
# run by scripts/test.sh).
#
# Debian's sendmail-bin conflicts with postfix, and the other end-to-end tests need Postfix,
# so this script installs no Sendmail package: it downloads sendmail-bin and sendmail-cf with
# `apt-get download`, unpacks them with `dpkg-deb -x` into a private root in a temp directory
# (with any shared library or m4 the machine lacks, also unpacked privately, never installed),
# builds sendmail.cf with m4 from the .mc lines docs/milter.md shows, and runs `sendmail -bD`
# from there. Postfix stays installed and untouched.
#
#   sendmail_e2e.sh BUILD_DIR [--corpus DIR] [--debs DIR] [--keep]
#   sendmail_e2e.sh --milter PATH --node PATH --cli PATH [--corpus DIR] [--debs DIR] [--keep]
#
# BUILD_DIR is a CMake build tree holding agent/milter/strop-milter, node/strop-node and
# agent/cli/strop. --debs DIR keeps the downloaded .deb files there and reuses them on the
# next run (default: downloaded into the temp directory each run). --keep keeps the temp
# directory (it is also kept when a case fails).
#
# Everything listens on 127.0.0.1 only, on free ports:
#   * two Sendmail daemons built from the same .mc except the filter line:
#       closed: INPUT_MAIL_FILTER(`strop', `S=unix:..., F=T, T=S:1m;R:1m;E:5m')
#       open:   INPUT_MAIL_FILTER(`strop', `S=unix:..., T=S:1m;R:1m;E:5m')
#     each relaying every message to a Python SMTP sink (SMART_HOST esmtp:[127.0.0.1] on the
#     sink's port). Sendmail runs in its own UTS + mount namespace (unshare) with the host
#     name mx.test.local and a private /etc/hosts and /etc/resolv.conf, because sendmail
#     sleeps 60 s at start when the machine's host name is unqualified ("vm" here) and would
#     otherwise ask the machine's DNS server about it;
#   * one strop-milter (clamd stage off; node lookup on; spam_action reject >= 15, tag >= 5);
#   * one strop-node on a temporary data directory, with a reporter identity for `strop report`.
#
# Cases: ham delivered with the milter's headers; GTUBE rejected 5xx; a corpus spam reported
# with `strop report`, then a copy tagged; milter stopped: F=T tempfails (4xx), the fail-open
# config delivers without the milter's headers.
# Exit: 0 all cases passed, 1 a case failed (or setup failed), 77 skipped (not root, or a
# required tool is missing).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"

usage() {
  echo "usage: $0 BUILD_DIR [--corpus DIR] [--debs DIR] [--keep]" >&2
  echo "       $0 --milter PATH --node PATH --cli PATH [--corpus DIR] [--debs DIR] [--keep]" >&2
  exit 64
}
BUILD='' MILTER='' NODE='' CLI='' CORPUS=/work/shared/corpus DEBS='' KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --milter) MILTER=$2; shift 2 ;;
    --node) NODE=$2; shift 2 ;;
    --cli) CLI=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --debs) DEBS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD=$1; shift ;;
  esac
done
if [ -n "$BUILD" ]; then
  BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory: $BUILD" >&2; exit 1; }
  : "${MILTER:=$BUILD/agent/milter/strop-milter}" "${NODE:=$BUILD/node/strop-node}" \
    "${CLI:=$BUILD/agent/cli/strop}"
fi
[ -n "$MILTER" ] || usage
for b in "$MILTER" "$NODE" "$CLI"; do
  [ -x "$b" ] || { echo "not built: '$b' (build the strop-milter, strop-node and strop targets)" >&2; exit 1; }
done
HAM="$CORPUS/ham/00001.7c53336b37003a9286aba55d2945844c.eml"
SPAM="$CORPUS/spam/00004.eac8de8d759b7e74154f142194282724.eml"
if [ ! -f "$HAM" ] || [ ! -f "$SPAM" ]; then echo "corpus messages not found under $CORPUS" >&2; exit 1; fi
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (sendmail -bD binds and runs as root)"; exit 77; fi
for t in apt-get apt-cache dpkg-deb dpkg-query ldd swaks curl unshare mount /usr/bin/python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done

# Sendmail refuses a unix milter socket (and other files) under a world-writable directory
# such as /tmp ("unsafe: World writable directory"), so the temp directory lives in /run.
T=$(mktemp -d /run/strop-sendmail-e2e.XXXXXX) || die "mktemp in /run failed"
FAILS=0 PASSES=0
SM_PIDS=()
SENDMAIL_BIN=$T/root/usr/libexec/sendmail/sendmail
cleanup() {
  local p exe
  # Each sendmail daemon runs in its own process group (setsid); background deliveries
  # detach into new sessions, so also end every process running this run's private binary.
  for p in "${SM_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${SM_PIDS[@]}"; do stop_pid "$p" 3; done
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    [ "$exe" = "$SENDMAIL_BIN" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  lib_cleanup
  if [ "$KEEP" = 1 ] || [ "$FAILS" -gt 0 ]; then
    log "logs kept in $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
check() {  # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
fatal() { fail "$*"; echo "$PASSES passed, $FAILS failed"; exit 1; }

# ---- Sendmail from the Debian archive, unpacked privately ----
ROOT=$T/root
mkdir -p "$ROOT" "$T/debs"
[ -n "$DEBS" ] || DEBS=$T/debs
mkdir -p "$DEBS" || die "cannot create $DEBS"
# deb_of PKG: the newest PKG_*.deb in $DEBS (empty if none).
deb_of() { find "$DEBS" -maxdepth 1 -name "$1_*.deb" | sort -V | tail -1; }
# fetch PKG...: PKG_*.deb into $DEBS unless already there, then unpacked into $ROOT.
fetch() {
  local pkg f
  for pkg in "$@"; do
    f=$(deb_of "$pkg")
    if [ -z "$f" ]; then
      if ! (cd "$DEBS" && timeout 120 apt-get -q -o APT::Sandbox::User=root download "$pkg") \
             >>"$T/apt.log" 2>&1; then
        # Stale package lists (the mirror moved on to a newer version): update once, retry.
        [ "$APT_UPDATED" = 0 ] || { cat "$T/apt.log" >&2; return 1; }
        apt_update || return 1
        (cd "$DEBS" && timeout 120 apt-get -q -o APT::Sandbox::User=root download "$pkg") \
          >>"$T/apt.log" 2>&1 || { cat "$T/apt.log" >&2; return 1; }
      fi
      f=$(deb_of "$pkg")
      [ -n "$f" ] || return 1
    fi
    dpkg-deb -x "$f" "$ROOT" || return 1
    log "unpacked $(basename "$f")"
  done
}
APT_UPDATED=0
apt_update() {
  log "apt-get update"
  APT_UPDATED=1
  timeout 300 apt-get -q update >>"$T/apt.log" 2>&1 || { cat "$T/apt.log" >&2; return 1; }
}
if ! apt-cache show sendmail-bin >/dev/null 2>&1; then
  apt_update || fatal "apt-get update failed"
fi
fetch sendmail-bin sendmail-cf || fatal "could not download/unpack sendmail-bin and sendmail-cf"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# The library packages sendmail-bin depends on that are not installed (here libwrap0 and
# liblockfile1): unpacked into the private root and found through LD_LIBRARY_PATH.
for dep in $(apt-cache show --no-all-versions sendmail-bin | sed -n 's/^Depends: //p' | tr ',' '\n' \
             | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' | tr -d ' '); do
  case $dep in lib*) installed "$dep" || fetch "$dep" || fatal "could not fetch $dep" ;; esac
done
M4=$(command -v m4 || true)
if [ -z "$M4" ]; then fetch m4 || fatal "could not fetch m4"; M4=$ROOT/usr/bin/m4; fi
# The unpacked binary is setgid mail; without the bit the loader honours LD_LIBRARY_PATH.
chmod 0755 "$SENDMAIL_BIN"
SM_LIBS=$(find "$ROOT" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd: -)
if LD_LIBRARY_PATH=$SM_LIBS ldd "$SENDMAIL_BIN" | grep -q 'not found'; then
  LD_LIBRARY_PATH=$SM_LIBS ldd "$SENDMAIL_BIN" >&2
  fatal "sendmail's shared libraries are not all available"
fi
SM_VERSION=$(dpkg-deb -f "$(deb_of sendmail-bin)" Version)
log "sendmail-bin $SM_VERSION unpacked in $ROOT (postfix untouched)"

# Hostname and resolver for sendmail's namespace.
USE_NS=${STROP_SENDMAIL_NS:-1}   # STROP_SENDMAIL_NS=0 forces the no-namespace fallback
printf '127.0.0.1\tmx.test.local mx localhost\n' > "$T/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$T/resolv.conf"
if [ "$USE_NS" = 1 ] && ! unshare --uts --mount sh -c "hostname mx.test.local && mount --bind $T/hosts /etc/hosts" 2>"$T/unshare.err"; then
  USE_NS=0
  log "WARNING: unshare --uts --mount failed ($(head -1 "$T/unshare.err")): sendmail runs in the" \
      "machine's namespaces and may sleep 60 s at start if the host name is unqualified"
fi

# ---- SMTP sink: stores every message it receives as a file in $T/sink ----
mkdir -p "$T/sink"
cat > "$T/sink.py" <<'PY'
# Minimal SMTP server for the test: one thread per connection, each message written to
# OUTDIR/msg-N.eml (atomically, via rename) with the envelope in an X-Sink-Envelope line.
import itertools, os, socketserver, sys, threading
port, outdir = int(sys.argv[1]), sys.argv[2]
counter, lock = itertools.count(), threading.Lock()

class Session(socketserver.StreamRequestHandler):
    timeout = 120
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()
    def handle(self):
        self.reply("220 sink.test.local ESMTP test sink")
        sender, rcpts = "", []
        while True:
            line = self.rfile.readline(8192)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                self.reply("250-sink.test.local")
                self.reply("250-8BITMIME")
                self.reply("250 SIZE 52428800")
            elif verb == "HELO":
                self.reply("250 sink.test.local")
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].strip(), []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip())
                self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk:
                        return
                    if chunk in (b".\r\n", b".\n"):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                with lock:
                    n = next(counter)
                tmp = os.path.join(outdir, ".tmp-%d" % n)
                with open(tmp, "wb") as f:
                    f.write(("X-Sink-Envelope: from=%s to=%s\r\n" % (sender, ",".join(rcpts))).encode())
                    f.write(bytes(data))
                os.rename(tmp, os.path.join(outdir, "msg-%d.eml" % n))
                self.reply("250 2.0.0 stored as msg-%d" % n)
            elif verb in ("RSET", "NOOP"):
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

Server(("127.0.0.1", port), Session).serve_forever()
PY
SINK_PORT=$(free_port)
/usr/bin/python3 "$T/sink.py" "$SINK_PORT" "$T/sink" >"$T/sink.log" 2>&1 &
LIB_PIDS+=($!)
wait_until 20 smtp_ready "$SINK_PORT" || { cat "$T/sink.log" >&2; fatal "SMTP sink did not start"; }
log "SMTP sink on 127.0.0.1:$SINK_PORT"

# ---- strop-node with a reporter identity ----
NODE_PORT=$(free_port)
NODE_URL=http://127.0.0.1:$NODE_PORT
mkdir -p "$T/node"
"$NODE" reporter add sendmail-e2e --trust 1 --out "$T/reporter.identity" --data "$T/node" \
  --node-url "$NODE_URL" >"$T/node-admin.log" 2>&1 || { cat "$T/node-admin.log" >&2; fatal "strop-node reporter add failed"; }
"$NODE" serve --data "$T/node" --listen "127.0.0.1:$NODE_PORT" >"$T/node.log" 2>&1 &
LIB_PIDS+=($!)
wait_until 60 curl -sf -m 2 "$NODE_URL/healthz" -o /dev/null || { cat "$T/node.log" >&2; fatal "strop-node did not become healthy"; }
log "strop-node on $NODE_URL"

# ---- strop-milter ----
SOCK=$T/milter.sock
mkdir -p "$T/quarantine"
cat > "$T/milter.toml" <<C
[milter]
socket = "unix:$SOCK"
socket_mode = "0660"
[log]
level = "info"
[budget]
total_ms = 8000
[buffer]
spool_dir = "$T"
[clamd]
enabled = false
[node]
urls = ["$NODE_URL"]
timeout_ms = 2000
[policy]
tag_threshold = 5.0
reject_threshold = 15.0
spam_action = "reject"
[quarantine]
directory = "$T/quarantine"
C
"$MILTER" --config "$T/milter.toml" >"$T/milter.log" 2>&1 &
MILTER_PID=$!
LIB_PIDS+=("$MILTER_PID")
wait_until 60 test -S "$SOCK" || { cat "$T/milter.log" >&2; fatal "strop-milter did not start"; }
log "strop-milter on unix:$SOCK"

# ---- the two Sendmail daemons ----
# sm_setup NAME PORT FILTER_LINE: $T/sm-NAME/sendmail.cf from sendmail.mc; FILTER_LINE is
# the INPUT_MAIL_FILTER line exactly as docs/milter.md shows it (socket path aside).
sm_setup() {
  local name=$1 port=$2 filter=$3 d=$T/sm-$1
  mkdir -p "$d/etc" "$d/queue"
  chmod 700 "$d/queue"
  printf 'hosts\tfiles\naliases\tfiles\n' > "$d/etc/service.switch"
  printf 'postmaster: root\n' > "$d/etc/aliases"
  cat > "$d/sendmail.mc" <<MC
divert(-1)
# strop-milter sendmail_e2e.sh: a loopback-only MTA that relays everything to the test sink.
define(\`MAIL_SETTINGS_DIR', \`$d/etc/')
divert(0)dnl
include(\`$ROOT/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`strop-milter sendmail_e2e $name')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.test.local')dnl
define(\`QUEUE_DIR', \`$d/queue')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`confDEF_USER_ID', \`65534:65534')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confQUEUE_LA', \`200')dnl
define(\`confREFUSE_LA', \`400')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
RELAY_DOMAIN(\`test.local')dnl
DAEMON_OPTIONS(\`Port=$port, Addr=127.0.0.1, Name=MTA')dnl
$filter
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
  "$M4" "$d/sendmail.mc" > "$d/sendmail.cf" 2>"$d/m4.err" || { cat "$d/m4.err" >&2; return 1; }
  [ ! -s "$d/m4.err" ] || cat "$d/m4.err" >&2
  cat > "$d/run.sh" <<SH
#!/bin/sh
# Runs inside 'unshare --uts --mount' (when available): private host name and /etc/hosts.
if [ "$USE_NS" = 1 ]; then
  hostname mx.test.local || exit 71
  mount --bind $T/hosts /etc/hosts || exit 71
  mount --bind $T/resolv.conf /etc/resolv.conf || exit 71
fi
export LD_LIBRARY_PATH=$SM_LIBS
exec $SENDMAIL_BIN -C $d/sendmail.cf -bD -X $d/smtp-trace.log
SH
  chmod 755 "$d/run.sh"
}

# sm_launch NAME: the daemon in the foreground (-bD) in its own session; its pid is the
# process group ended at cleanup.
sm_launch() {
  local d=$T/sm-$1
  if [ "$USE_NS" = 1 ]; then
    setsid unshare --uts --mount "$d/run.sh" >"$d/sendmail.out" 2>&1 &
  else
    setsid "$d/run.sh" >"$d/sendmail.out" 2>&1 &
  fi
  SM_PIDS+=($!)
}
# sm_wait NAME PORT: until the daemon's 220 greeting (bounded).
sm_wait() {
  local name=$1 port=$2 d=$T/sm-$1 limit=30
  [ "$USE_NS" = 1 ] || limit=150   # sendmail's 60 s sleep on an unqualified host name
  wait_until "$limit" smtp_ready "$port" || { cat "$d/sendmail.out" >&2; fatal "sendmail $name did not answer on $port"; }
  log "sendmail $name on 127.0.0.1:$port"
  [ ! -s "$d/sendmail.out" ] || cat "$d/sendmail.out" >&2
}

FILTER_CLOSED="INPUT_MAIL_FILTER(\`strop', \`S=unix:$SOCK, F=T, T=S:1m;R:1m;E:5m')"
FILTER_OPEN="INPUT_MAIL_FILTER(\`strop', \`S=unix:$SOCK, T=S:1m;R:1m;E:5m')"
P_CLOSED=$(free_port) P_OPEN=$(free_port)
sm_setup closed "$P_CLOSED" "$FILTER_CLOSED" || fatal "m4 failed for the F=T configuration"
sm_setup open "$P_OPEN" "$FILTER_OPEN" || fatal "m4 failed for the fail-open configuration"
check "sendmail.cf (F=T) has the filter line" \
  grep -qxF "Xstrop, S=unix:$SOCK, F=T, T=S:1m;R:1m;E:5m" "$T/sm-closed/sendmail.cf"
check "sendmail.cf (fail-open) has the filter line" \
  grep -qxF "Xstrop, S=unix:$SOCK, T=S:1m;R:1m;E:5m" "$T/sm-open/sendmail.cf"
check "sendmail.cf lists the filter in InputMailFilters" \
  grep -qx 'O InputMailFilters=strop' "$T/sm-closed/sendmail.cf"
sm_launch closed
sm_launch open
sm_wait closed "$P_CLOSED"
sm_wait open "$P_OPEN"

# send PORT TAG [swaks args...]: one message with "X-Test-Case: TAG"; sets RC and OUT.
send() {
  local port=$1 tag=$2; shift 2
  OUT=$(timeout 120 swaks --server "127.0.0.1:$port" --from sender@example.org --helo client.example \
          --timeout 60 --add-header "X-Test-Case: $tag" "$@" 2>&1)
  RC=$?
  printf '%s\n' "$OUT" > "$T/swaks-$tag.log"
}
# sunk TAG [SECONDS]: the file the sink stored for "X-Test-Case: TAG" (bounded wait).
sunk() {
  local tag=$1 limit=${2:-30} f
  local end=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -le "$end" ]; do
    f=$(grep -l -s -F "X-Test-Case: $tag" "$T"/sink/msg-*.eml 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then echo "$f"; return 0; fi
    sleep 0.05
  done
  return 1
}
hdr() { headers_of "$1" | tr -d '\r'; }
not_sunk() { ! grep -l -s -F "X-Test-Case: $1" "$T"/sink/msg-*.eml >/dev/null 2>&1; }
# The reply lines the server sent (swaks marks them "<-" and "<**").
replies() { grep -E '^ *<(-|\*\*) ' <<<"$OUT"; }
queue_id() { sed -nE 's/^ *<- +250 2\.0\.0 ([A-Za-z0-9]+) Message accepted for delivery.*/\1/p' <<<"$OUT" | tail -1; }

sed '1{/^From /d}' "$HAM" > "$T/ham.eml"
sed '1{/^From /d}' "$SPAM" > "$T/spam.eml"
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

# ---- 1. ham through the F=T Sendmail: delivered with the milter's headers ----
send "$P_CLOSED" ham --to u@test.local --data "$T/ham.eml"
if [ $RC = 0 ] && f=$(sunk ham); then
  h=$(hdr "$f")
  check "1 ham: relayed by Sendmail" grep -Eq "^[[:space:]]+by mx\.test\.local \(8\.[0-9.]+/8\.[0-9.]+\)" <<<"$h"
  check "1 ham: X-Scanned-By: strop-milter" grep -q '^X-Scanned-By: strop-milter [0-9]' <<<"$h"
  check "1 ham: X-Spam-Score" grep -qx 'X-Spam-Score: 0 ()' <<<"$h"
  check "1 ham: not flagged" bash -c "! grep -qi '^X-Spam-Flag' <<<\"\$0\"" "$h"
  qid=$(queue_id)
  check "1 ham: milter log line carries Sendmail's queue id ($qid)" \
    wait_until 5 grep -q "queue=$qid verdict=accept" "$T/milter.log"
else
  fail "1 ham: not delivered through Sendmail (swaks rc=$RC): $(replies | tail -2 | tr '\n' ' ')"
fi

# ---- 2. GTUBE: rejected at end of DATA with the reject policy ----
send "$P_CLOSED" gtube --to u@test.local --header "Subject: gtube" --body "$GTUBE"
check "2 GTUBE: refused after DATA (swaks rc=$RC, want 26)" test "$RC" = 26
check "2 GTUBE: client sees 550 5.7.1 Message rejected as spam" \
  grep -Eq '^ *<\*\* +550 5\.7\.1 Message rejected as spam \(score 1000\)' <<<"$OUT"
check "2 GTUBE: not delivered" not_sunk gtube

# ---- 5. a corpus spam reported with `strop report`, then a copy: tagged ----
mkdir -p "$T/xdg"
printf 'timeout = 10\n' > "$T/agent.toml"
REPORT=$(XDG_CONFIG_HOME=$T/xdg timeout 60 "$CLI" --config "$T/agent.toml" \
           --identity "$T/reporter.identity" --node "$NODE_URL" report --no-progress "$T/spam.eml" 2>&1)
REPORT_RC=$?
printf '%s\n' "$REPORT" > "$T/report.log"
check "5 spam: strop report exit 0 ($(tail -1 <<<"$REPORT"))" test "$REPORT_RC" = 0
send "$P_CLOSED" spamcopy --to u@test.local --data "$T/spam.eml"
if [ $RC = 0 ] && f=$(sunk spamcopy); then
  h=$(hdr "$f")
  check "5 spam: copy tagged X-Spam-Flag: YES" grep -qx 'X-Spam-Flag: YES' <<<"$h"
  check "5 spam: STROP_NODE in X-Spam-Score" grep -q '^X-Spam-Score: .*STROP_NODE' <<<"$h"
elif [ $RC = 26 ] && grep -q '550 5.7.1' <<<"$OUT"; then
  fail "5 spam: copy rejected, but the policy (tag >= 5, reject >= 15) should have tagged it"
else
  fail "5 spam: copy neither tagged nor rejected (swaks rc=$RC): $(replies | tail -2 | tr '\n' ' ')"
fi

# ---- 4a. the fail-open configuration with the milter up: scanned like the F=T one ----
send "$P_OPEN" openup --to u@test.local --header "Subject: fail-open, milter up" \
  --body "Shall we meet for lunch on Friday at the usual place? Regards, Bob"
if [ $RC = 0 ] && f=$(sunk openup); then
  check "4a fail-open, milter up: X-Scanned-By present" grep -q '^X-Scanned-By: strop-milter' <(hdr "$f")
else
  fail "4a fail-open, milter up: not delivered (swaks rc=$RC)"
fi

# ---- milter stopped ----
stop_pid "$MILTER_PID" 10
rm -f "$SOCK"   # as after a crash: nothing listens
log "strop-milter stopped"

# ---- 3. F=T: the client is told to try later (4xx), nothing delivered ----
send "$P_CLOSED" closeddown --to u@test.local --header "Subject: milter down, F=T" --body "hi"
check "3 F=T, milter down: message not accepted (swaks rc=$RC)" test "$RC" != 0
check "3 F=T, milter down: 4xx reply: $(replies | grep -E '<\*\* +4' | head -1 | sed 's/^ *//')" \
  grep -Eq '^ *<\*\* +4[0-9][0-9][ -]' <<<"$OUT"
check "3 F=T, milter down: no 5xx" bash -c "! grep -Eq '^ *<\*\* +5' <<<\"\$0\"" "$OUT"
sleep 1
check "3 F=T, milter down: not delivered" not_sunk closeddown

# ---- 4. fail-open: delivered, without the milter's headers ----
send "$P_OPEN" opendown --to u@test.local --header "Subject: milter down, fail-open" --body "hi"
if [ $RC = 0 ] && f=$(sunk opendown); then
  h=$(hdr "$f")
  check "4 fail-open, milter down: delivered without X-Scanned-By" \
    bash -c "! grep -q '^X-Scanned-By' <<<\"\$0\"" "$h"
  check "4 fail-open, milter down: delivered without X-Spam-Score" \
    bash -c "! grep -q '^X-Spam-Score' <<<\"\$0\"" "$h"
else
  fail "4 fail-open, milter down: not delivered (swaks rc=$RC): $(replies | tail -2 | tr '\n' ' ')"
fi

echo "sendmail $SM_VERSION, strop-milter $("$MILTER" --version 2>/dev/null | head -1)"
echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
