#!/usr/bin/env bash
# build.sh [test|tsan|release]: configure and build one tree.
#   test    -> build/test: clang-14, ASan + UBSan + libFuzzer instrumentation, RelWithDebInfo.
#              Everything the test command runs, fuzz targets included, comes from this tree.
#   tsan    -> build/tsan: clang-14, ThreadSanitizer, RelWithDebInfo; only the tsan_* test
#              executables (cmake/Tsan.cmake) and the libraries they link.
#   release -> build/release: gcc, Release; what the node runs and benchmarks measure.
# STROP_WERROR=1 configures with -DSTROP_WERROR=ON (warnings are errors, cmake/Warnings.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
jobs=${JOBS:-$(nproc)}
# ccache (installed by setup.sh) as the compiler launcher: rebuilds of unchanged sources are
# cache hits across build trees and fresh clones. STROP_CCACHE=0 turns it off.
launcher=()
if [ "${STROP_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, and the build directory not hashed: trees at build/NAME
  # share cache entries.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
# BUILD_DIR overrides the tree's directory (one per parallel worker).
options=()
if [ -n "${STROP_WERROR:-}" ]; then
  options+=(-DSTROP_WERROR=$([ "$STROP_WERROR" = 0 ] && echo OFF || echo ON))
fi
targets=()
case "$kind" in
  test)
    cmake -S . -B "${BUILD_DIR:-build/test}" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSTROP_SANITIZE=ON -DSTROP_FUZZ=ON -DSTROP_BENCH=OFF "${options[@]}" >/dev/null ;;
  tsan)
    cmake -S . -B "${BUILD_DIR:-build/tsan}" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSTROP_TSAN=ON -DSTROP_BENCH=OFF -DSTROP_SKIP_DIRS=tests "${options[@]}" >/dev/null
    targets=(--target tsan_tests) ;;
  release)
    cmake -S . -B "${BUILD_DIR:-build/release}" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
      "${options[@]}" >/dev/null ;;
  *) echo "usage: $0 [test|tsan|release]" >&2; exit 64 ;;
esac
cmake --build "${BUILD_DIR:-build/$kind}" -j "$jobs" "${targets[@]}"
