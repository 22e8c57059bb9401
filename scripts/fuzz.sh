#!/usr/bin/env bash
# fuzz.sh: long libFuzzer runs that keep what they find (docs/fuzzing.md).
#
#   scripts/fuzz.sh [--minutes N] [--max-len BYTES] [--edges] [--build DIR] [--lock FILE]
#                   [--seed DIR]... [--no-build] [TARGET...]
#
# For each TARGET (default: every tests/fuzz/*_fuzz.cpp), one at a time, one process each:
#  1. fuzzes for N minutes (default 5) from tests/fuzz/corpus/<target> and any --seed
#     directories, with the format's dictionary from tests/fuzz/dict when there is one; new
#     inputs go to a scratch directory under DIR/fuzz-work/<target>;
#  2. turns every crash, leak, timeout or out-of-memory input into a minimised regression
#     case, tests/fuzz/regressions/<target>/<kind>-<sha1>, which ctest replays
#     (fuzz.<target>.regressions) and which fails until the bug is fixed;
#  3. re-minimises the kept corpus with -merge=1 over the old corpus, the new inputs and the
#     --seed directories: hand-written seeds (any name that is not a 40-digit SHA-1) are
#     always kept, the rest is the smallest set that keeps the coverage; other inputs over
#     --max-len (default and at most 64 KiB; the run's -max_len too) are not kept. With
#     --edges the merge counts edges only (-use_counters=0), not hit counts: a much smaller
#     corpus for targets whose inputs are large (whole messages);
#  4. prints and appends to DIR/fuzz-work/summary.tsv: executions, coverage (cov, ft),
#     corpus files and bytes, findings.
# DIR is the sanitizer tree of `scripts/build.sh test` (default build/test); it is configured
# the same way when missing, and the targets are (re)built unless --no-build. With --lock
# FILE the build, and each target's run, minimisation and merge, hold `flock FILE` (a shared
# machine: one core-heavy job at a time). Exits 1 when any target had a finding, 2 on usage or build errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/tests/fuzz
minutes=5
build=${BUILD_DIR:-$root/build/test}
lock=${STROP_FUZZ_LOCK:-}
do_build=1
seeds=()
targets=()
kept_max_bytes=65536  # no kept corpus file is larger
max_len=$kept_max_bytes
merge_flags=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

while (($#)); do
  case "$1" in
    --minutes) minutes=${2:?}; shift 2 ;;
    --max-len) max_len=${2:?}; shift 2 ;;
    --edges) merge_flags=(-use_counters=0); shift ;;
    --build) build=${2:?}; shift 2 ;;
    --lock) lock=${2:?}; shift 2 ;;
    --seed) seeds+=("$(cd "${2:?}" && pwd)"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for f in "$fuzz_dir"/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
for t in "${targets[@]}"; do
  [ -f "$fuzz_dir/$t.cpp" ] || { echo "fuzz.sh: no target $t (tests/fuzz/$t.cpp)" >&2; exit 2; }
done
[[ "$max_len" =~ ^[0-9]+$ ]] && ((max_len > 0 && max_len <= kept_max_bytes)) ||
  { echo "fuzz.sh: --max-len must be 1..$kept_max_bytes" >&2; exit 2; }
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); if (s < 1) exit 1; print s }') ||
  { echo "fuzz.sh: --minutes must be positive" >&2; exit 2; }

# The dictionary of a target's input format, if any: the -dict= of its ctest run, so that
# tests/fuzz/CMakeLists.txt (strop_fuzz_target DICT) is the one place that says which.
dict_of() {
  ctest --test-dir "$build" --show-only=json-v1 -R "^fuzz\.$1\$" 2>/dev/null | python3 -c '
import json, sys
tests = json.load(sys.stdin).get("tests", [])
print(next((a[6:] for t in tests for a in t.get("command", []) if a.startswith("-dict=")), ""))'
}

if [ -n "$lock" ]; then exec 9>>"$lock"; fi
take_lock() { [ -z "$lock" ] || flock 9; }
drop_lock() { [ -z "$lock" ] || flock -u 9; }

if ((do_build)); then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
      export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
    fi
    cmake -S "$root" -B "$build" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSTROP_SANITIZE=ON -DSTROP_FUZZ=ON -DSTROP_BENCH=OFF >/dev/null
  fi
  take_lock
  cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}" ||
    { echo "fuzz.sh: build failed" >&2; exit 2; }
  drop_lock
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
limits=(-timeout=10 -rss_limit_mb=2048 -max_len="$max_len")
work_root=$build/fuzz-work
mkdir -p "$work_root"
summary=$work_root/summary.tsv
[ -f "$summary" ] ||
  printf 'date\ttarget\tseconds\texecutions\texec_per_s\tcov\tft\tcorpus_files\tcorpus_bytes\tfindings\n' \
    > "$summary"
failed=0

for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz.sh: $bin missing (build it, or drop --no-build)" >&2; exit 2; }
  corpus=$fuzz_dir/corpus/$t
  regressions=$fuzz_dir/regressions/$t
  work=$work_root/$t
  rm -rf "$work"
  mkdir -p "$work/new" "$work/artifacts" "$work/merged" "$corpus"
  dict=()
  d=$(dict_of "$t")
  [ -n "$d" ] && dict=(-dict="$d")

  take_lock  # held for the run, the minimisation and the merge of this target
  echo "== $t: ${seconds}s, corpus $(find "$corpus" -type f | wc -l) files${d:+, dict ${d##*/}}"
  # 1. Fuzz: new inputs go to the first directory only; the others are read.
  set +e
  "$bin" "${limits[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/new" "$corpus" "${seeds[@]}" > "$work/run.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/run.log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$work/run.log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$work/run.log" | tail -n 1 | cut -d' ' -f2)

  # 2. Findings become minimised regression cases.
  findings=0
  for a in "$work/artifacts"/{crash,leak,timeout,oom}-*; do
    [ -f "$a" ] || continue
    findings=$((findings + 1))
    name=$(basename "$a")
    min=$work/min-$name
    "$bin" -minimize_crash=1 -max_total_time=120 -timeout=10 -rss_limit_mb=2048 \
      -exact_artifact_path="$min" "$a" > "$work/minimize-$name.log" 2>&1 || true
    [ -s "$min" ] || cp "$a" "$min"
    mkdir -p "$regressions"
    cp "$min" "$regressions/$name"
    echo "   finding: tests/fuzz/regressions/$t/$name ($(wc -c < "$min") bytes;" \
         "log $work/run.log)"
  done
  if ((rc != 0 && findings == 0)); then
    echo "   $t exited $rc without an artifact; see $work/run.log" >&2
    findings=1
  fi

  # 3. Merge: hand-written seeds first (all kept), then whatever adds coverage.
  for f in "$corpus"/*; do
    [[ -f "$f" && ! "${f##*/}" =~ ^[0-9a-f]{40}$ ]] && cp "$f" "$work/merged/"
  done
  "$bin" -merge=1 "${merge_flags[@]}" "${limits[@]}" "$work/merged" "$corpus" "$work/new" "${seeds[@]}" \
    > "$work/merge.log" 2>&1 || { echo "fuzz.sh: merge of $t failed; see $work/merge.log" >&2; exit 2; }
  # Inputs over --max-len go, except the hand-written seeds (kept whatever their size).
  find "$work/merged" -type f -size +"$max_len"c -regextype posix-extended \
    -regex '.*/[0-9a-f]{40}' -delete
  drop_lock
  find "$corpus" -maxdepth 1 -type f -delete
  find "$work/merged" -maxdepth 1 -type f -exec cp -t "$corpus" {} +
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')

  echo "   executions ${execs:-?} (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}," \
       "corpus $files files / $bytes bytes, findings $findings"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" \
    "${execs:-}" "${rate:-}" "${cov:-}" "${ft:-}" "$files" "$bytes" "$findings" >> "$summary"
  ((findings == 0)) || failed=1
done
exit "$failed"
