#!/usr/bin/env bash
# top_level.sh: strop-milter's top-level flags, as in every Strop program: `--version` prints
# "strop-milter <project version>" and exits 0; `--print-config` prints the effective config
# as TOML and exits 0; the log levels are spdlog's names, and a bad one gets the shared text.
# (strop and strop-node: tests/cli/cli_test.py, case config.)
#   top_level.sh --milter PATH --version X.Y.Z
set -uo pipefail
MILTER= VERSION=
while [ $# -gt 0 ]; do
  case $1 in
    --milter) MILTER=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    *) echo "usage: $0 --milter PATH --version X.Y.Z" >&2; exit 64 ;;
  esac
done
[ -x "$MILTER" ] && [ -n "$VERSION" ] || { echo "usage: $0 --milter PATH --version X.Y.Z" >&2; exit 64; }

T=$(mktemp -d /tmp/strop-milter-top.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }

# expect RC CMD...: runs CMD, stdout in $T/out, stderr in $T/err; fails unless it exits RC.
expect() {
  local want=$1; shift
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$T/err")"
}

expect 0 "$MILTER" --version
[ "$(cat "$T/out")" = "strop-milter $VERSION" ] || fail "--version printed '$(cat "$T/out")'"

expect 0 "$MILTER" --print-config
python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$T/out" ||
  fail "--print-config is not TOML"

for level in trace debug info warn error critical off; do
  printf '[log]\nlevel = "%s"\n' "$level" >"$T/m.toml"
  expect 0 "$MILTER" --config "$T/m.toml" --print-config
done
printf '[log]\nlevel = "loud"\n' >"$T/m.toml"
expect 78 "$MILTER" --config "$T/m.toml" --print-config
want='strop-milter: log.level: unknown log level "loud" (trace, debug, info, warn, error, critical or off)'
[ "$(cat "$T/err")" = "$want" ] || fail "bad level: '$(cat "$T/err")'"

[ "$FAILED" = 0 ] && echo PASS
exit "$FAILED"
