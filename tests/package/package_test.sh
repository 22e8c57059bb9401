#!/usr/bin/env bash
# package_test.sh --corpus DIR: the Debian packages end to end on this machine (ctest
# package.deb, label package). Builds them with scripts/package.sh (build/pkgtest, debs in
# build/pkgtest-debs), runs lintian (no errors allowed), installs them with dpkg -i, checks
# users, directories, conffiles and man pages, runs `systemd-analyze verify` on every unit,
# starts each daemon with its unit's ExecStart as its unit's User= (setpriv: PID 1 here is not
# systemd), drives the node with the installed /usr/bin/strop (reporter add, report, check
# over HTTP and strop-udp/1) and the milter with miltertest (a reported spam tagged through the
# node, a ham not), stops both with SIGTERM (exit 0), then purges (always, from a trap) and
# checks that the purge removed every file and directory while the service users stay.
# STROP_PKG_DEBS=DIR skips the build and tests the .debs in DIR. Exit 77 (skip) when not root or a needed tool is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
corpus=
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus=$2; shift 2 ;;
    *) echo "usage: $0 --corpus DIR" >&2; exit 64 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIP: dpkg -i needs root"; exit 77; }
for tool in dpkg-buildpackage dh lintian scdoc systemd-analyze setpriv miltertest curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/setup.sh)"; exit 77; }
done
spams=("$corpus"/spam/*.eml) hams=("$corpus"/ham/*.eml)
spam=${spams[0]} ham=${hams[0]}
[ -f "$spam" ] && [ -f "$ham" ] || { echo "SKIP: no corpus in $corpus"; exit 77; }

T=$(mktemp -d /tmp/strop-pkgtest.XXXXXX)
chmod 755 "$T"
pids=()
packages=(strop-milter strop strop-node)
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -q installed; then
    echo "== cleanup: dpkg --purge ${packages[*]}"
    dpkg --purge "${packages[@]}" >"$T/purge-trap.log" 2>&1 || cat "$T/purge-trap.log" >&2
  fi
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT

# A leftover install (an earlier run killed before its trap) would hide what this one installs.
if dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -q installed; then
  echo "== purging a leftover install"
  dpkg --purge "${packages[@]}" >/dev/null
fi
for port in 7420; do
  if ss -Htlnu "sport = :$port" | grep -q .; then fail "port $port is taken: $(ss -Htlnup "sport = :$port")"; fi
done

# STROP_PKG_DEBS=DIR tests .debs built before (a developer's shortcut) instead of building.
debs=${STROP_PKG_DEBS:-}
if [ -z "$debs" ]; then
  echo "== build: scripts/package.sh (build/pkgtest)"
  debs=$repo/build/pkgtest-debs
  start=$(date +%s)
  # The machine's build lock (every compile here takes it); -w: never wait forever.
  flock -w 1800 "${STROP_BUILD_LOCK:-/tmp/strop-build.lock}" \
    env BUILD_DIR=build/pkgtest PKG_DIR="$debs" "$repo/scripts/package.sh" >"$T/build.log" 2>&1 ||
    { tail -50 "$T/build.log"; fail "scripts/package.sh"; }
  grep '^package.sh: built' "$T/build.log"
  echo "package build: $(( $(date +%s) - start )) s (waiting for the build lock included)"
fi
for p in strop-node strop strop-milter; do
  ls "$debs/${p}_"*.deb >/dev/null || fail "no $p .deb"
done
ls -l "$debs"

echo "== lintian"
lintian --fail-on error --tag-display-limit 0 "$debs"/*.deb >"$T/lintian.log" 2>&1 ||
  { cat "$T/lintian.log"; fail "lintian reports errors"; }
echo "lintian: $(grep -c '^E:' "$T/lintian.log" || true) errors, $(grep -c '^W:' "$T/lintian.log" || true) warnings"
cat "$T/lintian.log"

echo "== dpkg -i"
dpkg -i "$debs"/*.deb >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "dpkg -i"; }
for f in /usr/bin/strop /usr/sbin/strop-node /usr/sbin/strop-milter \
         /etc/strop/node.toml /etc/strop/milter.toml /etc/strop/agent.toml \
         /lib/systemd/system/strop-node.service /lib/systemd/system/strop-milter.service \
         /usr/lib/sysusers.d/strop-node.conf /usr/lib/sysusers.d/strop-milter.conf \
         /usr/lib/tmpfiles.d/strop-node.conf /usr/lib/tmpfiles.d/strop-milter.conf \
         /usr/share/man/man1/strop.1.gz /usr/share/man/man8/strop-node.8.gz \
         /usr/share/man/man8/strop-milter.8.gz /usr/share/man/man5/strop.toml.5.gz \
         /usr/lib/x86_64-linux-gnu/pkgconfig/strop-agent.pc /usr/include/strop/agent/client.hpp; do
  [ -e "$f" ] || fail "$f not installed"
done
for c in /etc/strop/node.toml /etc/strop/milter.toml /etc/strop/agent.toml; do
  dpkg-query -W -f='${Conffiles}\n' strop-node strop strop-milter | grep -q " $c " ||
    fail "$c is not a conffile"
done
getent passwd strop >/dev/null || fail "user strop not created"
getent passwd strop-milter >/dev/null || fail "user strop-milter not created"
check_dir() {  # PATH MODE OWNER
  [ -d "$1" ] || fail "$1 not created"
  [ "$(stat -c '%a %U:%G' "$1")" = "$2 $3" ] || fail "$1 is $(stat -c '%a %U:%G' "$1"), want $2 $3"
}
check_dir /var/lib/strop 700 strop:strop
check_dir /run/strop-milter 750 strop-milter:strop-milter
check_dir /var/spool/strop-milter/quarantine 750 strop-milter:strop-milter
if getent passwd postfix >/dev/null; then
  id -nG postfix | tr ' ' '\n' | grep -qx strop-milter || fail "postfix not in group strop-milter"
fi
# The packaged conffiles load, and each is the program's defaults (every key commented out).
/usr/sbin/strop-node --config /etc/strop/node.toml --print-config >"$T/node.cfg"
/usr/sbin/strop-milter --config /etc/strop/milter.toml --print-config >"$T/milter.cfg"
env -i HOME="$T" /usr/bin/strop --print-config >"$T/agent.cfg"
grep -q '^# config file: /etc/strop/agent.toml' "$T/agent.cfg" || fail "strop does not read /etc/strop/agent.toml"
grep -q '^urls = \["udp://127.0.0.1:7420"\]' "$T/milter.cfg" || fail "packaged milter does not ask the local node"
grep -q '^listen = "auto"' "$T/node.cfg" || fail "packaged node has no strop-udp/1 listener"
# Man pages render without groff warnings; strop.toml(5) lists keys of all three programs.
for page in strop.1 strop-node.8 strop-milter.8 strop.toml.5; do
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "/usr/share/man/man${page##*.}/$page.gz" 2>&1 >/dev/null)
  [ -z "$out" ] || fail "man $page: $out"
done
man -l /usr/share/man/man5/strop.toml.5.gz 2>/dev/null | col -b >"$T/toml.txt"
for key in max_body_bytes on_failure tls_verify; do
  grep -q "$key" "$T/toml.txt" || fail "strop.toml(5) has no $key"
done

echo "== systemd-analyze verify"
for unit in strop-node.service strop-milter.service; do
  systemd-analyze verify "/lib/systemd/system/$unit" >"$T/verify.log" 2>&1 ||
    { cat "$T/verify.log"; fail "systemd-analyze verify $unit"; }
  # Lines about units of other packages (not ours) are not this test's business.
  if grep -i "strop" "$T/verify.log"; then fail "systemd-analyze verify $unit warns"; fi
done

# start UNIT LOG: run the unit's ExecStart as its User=/Group= in the background.
start_unit() {
  local unit=/lib/systemd/system/$1 user group exec
  user=$(sed -n 's/^User=//p' "$unit")
  group=$(sed -n 's/^Group=//p' "$unit")
  exec=$(sed -n 's/^ExecStart=//p' "$unit")
  echo "start $1 as $user:$group: $exec"
  # shellcheck disable=SC2086  # ExecStart is a plain command line, split on spaces
  (umask "$(sed -n 's/^UMask=//p' "$unit")" &&
     exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
       env -i PATH=/usr/bin:/bin $exec) >"$2" 2>&1 &
  pids+=($!)
}
wait_for() {  # WHAT COMMAND...: up to 30 s
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "$what"
}

echo "== strop-node"
start_unit strop-node.service "$T/node.log"
node_pid=${pids[-1]}
wait_for "node ready (/readyz)" curl -sf http://127.0.0.1:7420/readyz
grep -q "ready: listening on 127.0.0.1:7420" "$T/node.log" || { cat "$T/node.log"; fail "no ready line"; }
[ "$(ps -o user= -p "$node_pid")" = strop ] || fail "node does not run as strop"
runuser -u strop -- /usr/sbin/strop-node --config /etc/strop/node.toml \
  reporter add pkgtest --trust 1 >"$T/identity.json"
export HOME=$T/home
mkdir -p "$HOME"
strop=/usr/bin/strop
"$strop" --identity "$T/identity.json" report "$spam"
status=0; "$strop" --identity "$T/identity.json" check "$spam" || status=$?
[ "$status" = 0 ] || fail "installed strop: reported spam checks as $status, want 0 (spam)"
status=0; "$strop" --identity "$T/identity.json" check "$ham" || status=$?
[ "$status" = 1 ] || fail "installed strop: ham checks as $status, want 1 (not spam)"
status=0; "$strop" --node udp://127.0.0.1:7420 check "$spam" || status=$?
[ "$status" = 0 ] || fail "installed strop over strop-udp/1: spam checks as $status, want 0"
runuser -u strop -- /usr/sbin/strop-node --config /etc/strop/node.toml stats
echo "node: report, check (HTTP and strop-udp/1) ok"

echo "== strop-milter"
start_unit strop-milter.service "$T/milter.log"
milter_pid=${pids[-1]}
wait_for "milter socket" test -S /run/strop-milter/milter.sock
[ "$(stat -c '%a %G' /run/strop-milter/milter.sock)" = "660 strop-milter" ] ||
  fail "socket is $(stat -c '%a %G' /run/strop-milter/milter.sock)"
[ "$(ps -o user= -p "$milter_pid")" = strop-milter ] || fail "milter does not run as strop-milter"
for kind in spam ham; do
  msg=$spam; [ "$kind" = ham ] && msg=$ham
  miltertest -D SOCK=unix:/run/strop-milter/milter.sock -D "LIB=$here/../milter/mt_lib.lua" \
    -D "MSG=$msg" -D "EXPECT=$kind" -s "$here/send.lua" || { cat "$T/milter.log"; fail "miltertest $kind"; }
done

echo "== SIGTERM"
for pid in "$milter_pid" "$node_pid"; do
  kill -TERM "$pid"
  status=0; wait "$pid" || status=$?
  [ "$status" = 0 ] || fail "pid $pid exited $status after SIGTERM"
done
pids=()
echo "--- node log"; cat "$T/node.log"
echo "--- milter log"; cat "$T/milter.log"

echo "== dpkg --purge"
dpkg --purge "${packages[@]}" >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "dpkg --purge"; }
for f in /usr/bin/strop /usr/sbin/strop-node /usr/sbin/strop-milter /etc/strop /var/lib/strop \
         /var/spool/strop-milter /run/strop-milter /lib/systemd/system/strop-node.service \
         /lib/systemd/system/strop-milter.service /usr/lib/sysusers.d/strop-node.conf \
         /usr/lib/tmpfiles.d/strop-milter.conf /usr/share/man/man5/strop.toml.5.gz /usr/include/strop; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
# Debian practice: system users stay after purge (files elsewhere may carry their uid), but
# nothing the packages made is left owned by them.
getent passwd strop >/dev/null || fail "purge removed user strop (it should stay)"
left=$(find /etc /var /run /usr \( -user strop -o -user strop-milter \) 2>/dev/null | head -5)
[ -z "$left" ] || fail "files owned by the service users after purge: $left"
if getent passwd postfix >/dev/null && id -nG postfix | tr ' ' '\n' | grep -qx strop-milter; then
  fail "postfix still in group strop-milter after purge"
fi
echo "package test: OK"
