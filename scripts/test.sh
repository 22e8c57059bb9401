#!/usr/bin/env bash
# test.sh: set up, build the sanitizer tree once, and run every test (unit, integration,
# end-to-end with the real peers, bounded fuzzing). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh test
cd build/test
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest -j "${CTEST_JOBS:-2}" --output-on-failure --timeout 1200
