#!/bin/sh
# rspamd_fuzzy.sh: ham-ham collisions (and spam self-recall) of rspamd's fuzzy storage on the
# messages of Strop's quality tests. A measurement, not a test: it never decides pass/fail;
# the figures go to docs/signatures.md "fuzzy/1 specificity" / "## 3. Quality (measured)".
#
#   tests/quality/peers/rspamd_fuzzy.sh [--corpus DIR] [--sets ham,hard-ham] [--spam-recall]
#                                       [--limit N] [--tsv FILE] [--keep]
#
# e.g. `tests/quality/peers/rspamd_fuzzy.sh --sets hard-ham,ham --spam-recall --tsv pairs.tsv`
# (about 7 minutes on 2 cores; --tsv lists the colliding pairs for ham_pairs.py). Prints, per
# set: messages rspamd hashes, the candidate pairs, COLLISIONS (pairs, messages) by result
# type, a check of non-candidate pairs and the incremental cross-check; then spam self-recall.
#
# Needs the Debian packages rspamd (3.4 in bookworm) and redis-server (the fuzzy_storage
# backend rspamd ships configured; its sqlite backend is deprecated), python3, and util-linux
# `unshare` (run as root) for a private network namespace. Never reads or writes /etc/rspamd,
# never touches the system services:
#  - everything runs inside `unshare -n` (only a private loopback, brought up here), so the
#    fixed ports below are private and nothing can reach or be reached from outside; without
#    unshare (not root) set RSPAMD_FUZZY_NO_UNSHARE=1 and the same ports are bound on
#    127.0.0.1 only (they must then be free);
#  - a temporary directory holds a private rspamd config (written below, self-contained),
#    its run/db/log directories and redis' data; everything is stopped and removed at exit
#    (--keep keeps the directory for the logs);
#  - processes run under `nice -n 10`, one worker of each kind.
#
# rspamd setup (why these settings): one fuzzy_storage worker (redis backend, updates applied
# every 0.05 s instead of the 60 s default so a learn is visible at once; everything else as
# shipped, expire 90 d), one normal worker for /checkv2, one controller for /fuzzyadd, and only
# the fuzzy_check module (options.filters), with one rule equal to the rule Debian ships for
# rspamd.com's public storage (modules.d/fuzzy_check.conf) except that it points at the local
# worker and is writable: algorithm mumhash, min_bytes 1k, min_length 64 words (below it a
# text part gets an exact hash of its text and the subject when it has >= 256 bytes,
# short_text_direct_hash), text shingles on, images >= 500x500 and >= 1k, attachments of any
# mime type (mime_types ["*"]) >= 1k, archives; flag 1 -> symbol FUZZY_DENIED. No encryption
# (it does not change hashes). The measurement itself is rspamd_fuzzy.py (method in its
# docstring).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CORPUS=${STROP_CORPUS:-$ROOT/../shared/corpus}
REDIS_PORT=16379
FUZZY_PORT=11335
NORMAL_PORT=11333
CONTROLLER_PORT=11334

for tool in rspamd redis-server python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install rspamd redis-server python3)" >&2; exit 2; }
done

# Re-run inside a private network namespace with only loopback.
if [ "${RSPAMD_FUZZY_INNER:-}" = "" ] && [ "${RSPAMD_FUZZY_NO_UNSHARE:-}" = "" ]; then
  export RSPAMD_FUZZY_INNER=1
  exec unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

KEEP=0
for a in "$@"; do [ "$a" = "--keep" ] && KEEP=1; done

TMP=$(mktemp -d /tmp/strop-rspamd-fuzzy-XXXXXX)
mkdir -p "$TMP/run" "$TMP/db" "$TMP/log" "$TMP/redis"
REDIS_PID=
RSPAMD_PID=
cleanup() {
  if [ -n "$RSPAMD_PID" ]; then
    kill "$RSPAMD_PID" 2>/dev/null || true
    wait "$RSPAMD_PID" 2>/dev/null || true
  fi
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT INT TERM

cat > "$TMP/rspamd.conf" <<EOF
options {
  pidfile = "$TMP/run/rspamd.pid";
  filters = "fuzzy_check";
  control_socket = "$TMP/run/rspamd.sock mode=0600";
  cache_file = "$TMP/db/symbols.cache";
  hs_cache_dir = "$TMP/db/";
  dynamic_conf = "$TMP/db/rspamd_dynamic";
  history_file = "$TMP/db/rspamd.history";
  stats_file = "$TMP/db/stats.ucl";
  url_tld = "\${SHAREDIR}/effective_tld_names.dat";
  task_timeout = 20s;
  dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }
}
logging { type = "file"; filename = "$TMP/log/rspamd.log"; level = "notice"; }
worker "normal" { bind_socket = "127.0.0.1:$NORMAL_PORT"; count = 1; }
worker "controller" {
  bind_socket = "127.0.0.1:$CONTROLLER_PORT"; count = 1;
  secure_ip = "127.0.0.1"; static_dir = "\${WWWDIR}";
}
worker "fuzzy" {
  bind_socket = "127.0.0.1:$FUZZY_PORT"; count = 1;
  backend = "redis"; servers = "127.0.0.1:$REDIS_PORT";
  expire = 90d; sync = 0.05;
  allow_update = ["127.0.0.1"];
}
fuzzy_check {
  min_bytes = 1k;
  timeout = 2s;
  retransmits = 1;
  rule "local" {
    algorithm = "mumhash";
    servers = "127.0.0.1:$FUZZY_PORT";
    symbol = "FUZZY_UNKNOWN";
    mime_types = ["*"];
    max_score = 20.0;
    read_only = no;
    skip_unknown = yes;
    short_text_direct_hash = true;
    min_length = 64;
    fuzzy_map = {
      FUZZY_DENIED { max_score = 20.0; flag = 1; }
    }
  }
}
EOF

nice -n 10 redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --dir "$TMP/redis" --logfile "$TMP/log/redis.log" --daemonize no &
REDIS_PID=$!
nice -n 10 rspamd -f -i -u "$(id -un)" -g "$(id -gn)" -c "$TMP/rspamd.conf" \
  --var "DBDIR=$TMP/db" --var "RUNDIR=$TMP/run" --var "LOGDIR=$TMP/log" \
  --var "LOCAL_CONFDIR=$TMP/local" --var "CONFDIR=$TMP" >"$TMP/log/rspamd.out" 2>&1 &
RSPAMD_PID=$!

set +e
nice -n 10 python3 -u "$HERE/rspamd_fuzzy.py" --corpus "$CORPUS" \
  --redis "127.0.0.1:$REDIS_PORT" --normal "127.0.0.1:$NORMAL_PORT" \
  --controller "127.0.0.1:$CONTROLLER_PORT" --log "$TMP/log/rspamd.log" "$@"
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "--- rspamd log (tail)" >&2
  tail -20 "$TMP/log/rspamd.log" "$TMP/log/rspamd.out" >&2 2>/dev/null || true
fi
exit $rc
