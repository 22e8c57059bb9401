#!/usr/bin/env bash
# run_target.sh: the two ctest runs of a libFuzzer target (tests/fuzz/CMakeLists.txt).
#   run_target.sh short BINARY SECONDS WORK_DIR [SEED_DIR...] [-- LIBFUZZER_FLAG...]
#       A bounded fuzzing run. The kept corpus and any other seed directories are copied into
#       a fresh directory under WORK_DIR first, so a run never writes into the checkout; new
#       inputs and crash artifacts stay under WORK_DIR (the path is printed on failure).
#   run_target.sh replay BINARY REGRESSIONS_DIR
#       Runs the target once over every file in REGRESSIONS_DIR (tests/fuzz/regressions/<target>):
#       passes when the directory is missing or empty, fails when any input crashes, leaks,
#       times out or trips a sanitizer.
set -euo pipefail
mode=${1:?usage: run_target.sh short|replay BINARY ...}
bin=${2:?missing BINARY}
common=(-rss_limit_mb=2048 -timeout=10 -max_len=262144)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

case "$mode" in
  short)
    seconds=${3:?missing SECONDS}
    work=${4:?missing WORK_DIR}
    shift 4
    seeds=() flags=()
    while (($#)); do
      if [ "$1" = -- ]; then shift; flags=("$@"); break; fi
      seeds+=("$1"); shift
    done
    mkdir -p "$work"
    run=$(mktemp -d "$work/run.XXXXXX")
    mkdir "$run/corpus"
    for d in "${seeds[@]}"; do
      [ -d "$d" ] || continue
      find "$d" -maxdepth 1 -type f -exec cp -t "$run/corpus" {} +
    done
    echo "run_target.sh: $(find "$run/corpus" -type f | wc -l) seeds in $run/corpus"
    if "$bin" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
         -artifact_prefix="$run/" "${flags[@]}" "$run/corpus"; then
      rm -rf "$run"
    else
      rc=$?
      echo "run_target.sh: $bin failed ($rc); inputs and artifacts kept in $run" >&2
      exit "$rc"
    fi ;;
  replay)
    dir=${3:?missing REGRESSIONS_DIR}
    inputs=()
    if [ -d "$dir" ]; then
      while IFS= read -r -d '' f; do inputs+=("$f"); done \
        < <(find "$dir" -maxdepth 1 -type f -print0 | sort -z)
    fi
    if ((${#inputs[@]} == 0)); then
      echo "run_target.sh: no regression inputs in $dir"
      exit 0
    fi
    # Files (not a directory) as arguments: libFuzzer runs each input once and stops at the
    # first failure with a non-zero status.
    exec "$bin" "${common[@]}" "${inputs[@]}" ;;
  *)
    echo "usage: run_target.sh short|replay BINARY ..." >&2
    exit 64 ;;
esac
