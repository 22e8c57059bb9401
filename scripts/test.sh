#!/usr/bin/env bash
# test.sh: set up, build the sanitizer tree once, and run every test (unit, integration,
# end-to-end with the real peers, bounded fuzzing). Before that, the concurrency tests run in
# a small ThreadSanitizer tree (build/tsan, ctest -L tsan; cmake/Tsan.cmake); STROP_TSAN=0
# skips them. Ends with the main ctest's summary; a TSan failure is reported just above the
# main run and fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh test
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tsan_status=0
if [ "${STROP_TSAN:-1}" != 0 ]; then
  echo "== ThreadSanitizer: concurrency tests (build/tsan, ctest -L tsan)"
  if scripts/build.sh tsan; then
    (cd build/tsan && ctest -L tsan -j "${CTEST_JOBS:-2}" --output-on-failure --timeout 1200) ||
      tsan_status=$?
  else
    tsan_status=$?
    echo "test.sh: the ThreadSanitizer tree did not build" >&2
  fi
  [ "$tsan_status" = 0 ] || echo "test.sh: the ThreadSanitizer run FAILED (above); running the rest"
fi
echo "== all tests (build/test)"
cd build/test
main_status=0
ctest -j "${CTEST_JOBS:-2}" --output-on-failure --timeout 1200 || main_status=$?
[ "$main_status" = 0 ] || exit "$main_status"
exit "$tsan_status"
