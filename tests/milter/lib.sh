# lib.sh: shell helpers shared by the milter end-to-end tests and scripts/bench-milter.sh:
# a private loopback-only Postfix instance, clamd with a test-written EICAR database, free
# ports, bounded waits. Source it; it installs nothing and touches no system configuration
# (mail-pipeline.md §2, §4). Every wait is bounded; callers register `lib_cleanup` on EXIT.

LIB_PIDS=()          # background processes to stop at cleanup (pid list)
LIB_POSTFIX_DIRS=()  # postfix config dirs to stop at cleanup

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# A TCP port on 127.0.0.1 free now, for a server started later: a random one below the
# kernel's ephemeral range (not one bind(0) gives: until the server binds it, the local end of
# any outgoing connection on the machine may take an ephemeral port, and then `postfix start`
# fails; a test command saw that once), and never one this script already handed out (kept in
# a file: free_port runs in command substitutions, whose variables do not reach the script;
# lib_cleanup removes it).
LIB_PORTS_FILE=/tmp/strop-milter-ports.$$
free_port() {
  /usr/bin/python3 - "$LIB_PORTS_FILE" <<'PY'
import os, random, socket, sys
path = sys.argv[1]
taken = set(open(path).read().split()) if os.path.exists(path) else set()
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
first = max(1024, lo - 16000)
while True:
    if lo - first >= 1000:
        port = random.randrange(first, lo)
    else:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    if str(port) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write("%d\n" % port)
    print(port)
    break
PY
}

# wait_until SECONDS CMD...: polls CMD every 0.05 s until it succeeds or the time is up.
wait_until() {
  local limit=$1; shift
  local end=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" 2>/dev/null; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

smtp_ready() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  IFS= read -r -t 2 line <&3 || { exec 3<&-; return 1; }
  printf 'QUIT\r\n' >&3
  exec 3<&- 3>&-
  [[ $line == 220* ]]
}

clamd_pong() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'zPING\0' >&3
  reply=$(timeout 2 cat <&3 | tr -d '\0')
  exec 3<&- 3>&-
  [ "$reply" = PONG ]
}

# pf_setup DIR SERVICES...: writes a private postfix instance in DIR. Each service is
# "PORT" (no milter) or "PORT=MILTER" (smtpd_milters for that listener, e.g. unix:/x.sock).
# Mail for any @test.local recipient lands in the Maildir DIR/mail/sink/.
pf_setup() {
  local d=$1; shift
  mkdir -p "$d/etc" "$d/spool" "$d/mail"   # data_directory: postfix creates it (owner postfix)
  chown 65534:65534 "$d/mail"
  cat > "$d/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = $d/maillog
myhostname = mx.test.local
mydomain = test.local
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = reject_unauth_destination
virtual_mailbox_domains = test.local
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = static:sink/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:outbound delivery disabled in tests
relay_transport = error:outbound delivery disabled in tests
disable_dns_lookups = yes
smtp_dns_support_level = disabled
biff = no
smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
milter_command_timeout = 30s
milter_content_timeout = 60s
message_size_limit = 20480000
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 50
CF
  {
    local s port milter
    for s in "$@"; do
      port=${s%%=*}
      if [[ $s == *=* ]]; then
        milter=${s#*=}
        echo "$port      inet  n - n - - smtpd -o smtpd_milters=$milter"
      else
        echo "$port      inet  n - n - - smtpd"
      fi
    done
    cat <<'MC'
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
smtp      unix  - - n - - smtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
MC
  } > "$d/etc/master.cf"
}

# pf_start DIR PORT: starts the instance and waits for its 220 on PORT.
pf_start() {
  local d=$1 port=$2
  LIB_POSTFIX_DIRS+=("$d")
  if ! postfix -c "$d/etc" start >/dev/null 2>&1; then
    # postfix prints nothing without a tty (mail-pipeline.md §2.2): show its check output.
    script -qc "postfix -c $d/etc check" /dev/null >&2 || true
    die "postfix did not start"
  fi
  wait_until 60 smtp_ready "$port" || die "postfix on $port did not answer"
}

pf_stop() { postfix -c "$1/etc" stop >/dev/null 2>&1 || postfix -c "$1/etc" abort >/dev/null 2>&1 || true; }

# clamd_setup DIR PORT: EICAR signature DB written by the test (mail-pipeline.md §4.1),
# clamd listening on DIR/clamd.sock and 127.0.0.1:PORT.
clamd_setup() {
  local d=$1 port=$2
  mkdir -p "$d/db" "$d/tmp"
  printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$d/eicar.com"
  local md5 sha hex
  md5=$(md5sum < "$d/eicar.com" | cut -d' ' -f1)
  sha=$(sha256sum < "$d/eicar.com" | cut -d' ' -f1)
  hex=$(od -An -v -tx1 "$d/eicar.com" | tr -d ' \n')
  echo "$md5:68:Eicar-Test-Signature" > "$d/db/test.hdb"
  echo "$sha:68:Eicar-Test-Signature.sha256" > "$d/db/test.hsb"
  echo "Eicar-Test-Signature.ndb:0:*:$hex" > "$d/db/test.ndb"
  cat > "$d/clamd.conf" <<CF
Foreground yes
DatabaseDirectory $d/db
LocalSocket $d/clamd.sock
LocalSocketMode 666
TCPSocket $port
TCPAddr 127.0.0.1
LogFile $d/clamd.log
LogTime yes
TemporaryDirectory $d/tmp
MaxThreads 4
StreamMaxLength 10M
SelfCheck 0
CF
}

# clamd_start DIR PORT: starts clamd in the background (pid in CLAMD_PID), waits for PONG.
clamd_start() {
  local d=$1 port=$2
  clamd -c "$d/clamd.conf" >"$d/clamd.out" 2>&1 &
  CLAMD_PID=$!
  LIB_PIDS+=("$CLAMD_PID")
  wait_until 60 clamd_pong "$port" || { cat "$d/clamd.out" >&2; die "clamd did not answer PING"; }
}

# stop_pid PID [GRACE_SECONDS]: SIGTERM, then SIGKILL after the grace period.
stop_pid() {
  local pid=$1 grace=${2:-3}
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local end=$(( $(date +%s) + grace ))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# term_wait PID [SECONDS]: SIGTERM, then wait up to SECONDS (default 15) for the exit; sets
# RC to the exit status, or 124 when it is still running (it is left running).
term_wait() {
  local pid=$1 limit=${2:-15} i
  kill -TERM "$pid" 2>/dev/null
  RC=124
  for ((i = 0; i < limit * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; RC=$?; return 0; fi
    sleep 0.05
  done
}

# milter_test_args NAME ARGS...: the one option of the miltertest-driven tests, --milter
# PATH, into MILTER; exits 64 on anything else, 1 when PATH is not executable, 77 (skipped)
# without miltertest.
milter_test_args() {
  local self=$1
  shift
  MILTER=
  while [ $# -gt 0 ]; do
    case $1 in
      --milter) MILTER=$2; shift 2 ;;
      *) echo "usage: $self --milter PATH" >&2; exit 64 ;;
    esac
  done
  [ -x "$MILTER" ] || { echo "strop-milter not found: $MILTER" >&2; exit 1; }
  command -v miltertest >/dev/null || { echo "SKIP: miltertest not installed"; exit 77; }
}

lib_cleanup() {
  local d p
  for d in "${LIB_POSTFIX_DIRS[@]}"; do pf_stop "$d"; done
  for p in "${LIB_PIDS[@]}"; do stop_pid "$p" 1; done
  rm -f "$LIB_PORTS_FILE"
}

# delivered_with DIR TAG [SECONDS]: path of the delivered message carrying "X-Test-Case: TAG".
delivered_with() {
  local d=$1 tag=$2 limit=${3:-30} f
  local end=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -le "$end" ]; do
    f=$(grep -l -s -F "X-Test-Case: $tag" "$d"/mail/sink/new/* 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then echo "$f"; return 0; fi
    sleep 0.05
  done
  return 1
}

# The header block of a delivered message.
headers_of() { sed -n '1,/^\r\{0,1\}$/p' "$1"; }
