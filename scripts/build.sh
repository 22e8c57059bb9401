#!/usr/bin/env bash
# build.sh [test|release]: configure and build one tree.
#   test    -> build/test: clang-14, ASan + UBSan + libFuzzer instrumentation, RelWithDebInfo.
#              Everything the test command runs, fuzz targets included, comes from this tree.
#   release -> build/release: gcc, Release; what the node runs and benchmarks measure.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
jobs=${JOBS:-$(nproc)}
case "$kind" in
  test)
    cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSTROP_SANITIZE=ON -DSTROP_FUZZ=ON -DSTROP_BENCH=OFF >/dev/null ;;
  release)
    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null ;;
  *) echo "usage: $0 [test|release]" >&2; exit 64 ;;
esac
cmake --build "build/$kind" -j "$jobs"
