#!/usr/bin/env bash
# lint.sh [BUILD_DIR]: the style checks (docs/development.md "Checks"). Exit 0 when clean.
#   format  clang-format-14 --dry-run --Werror over every first-party C++ file: product code,
#           tests, fuzz targets and benchmarks alike (one format everywhere; a data table that
#           must keep its layout uses // clang-format off/on with a reason). Files whose first
#           lines say GENERATED (sigs' pyzor tables) are left to their generator, for both checks.
#   tidy    clang-tidy-14 with .clang-tidy over the product sources (*.cpp, not tests, fuzz
#           targets or benchmarks) of the directories in LINT_TIDY_DIRS, using
#           BUILD_DIR/compile_commands.json (default build/test; any configured tree works,
#           CMAKE_EXPORT_COMPILE_COMMANDS is on). Headers are checked through the sources.
# LINT_ONLY=format|tidy runs one of them. LINT_JOBS (default nproc) parallel clang-tidy runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/test}
only=${LINT_ONLY:-}
jobs=${LINT_JOBS:-$(nproc)}
tidy_dirs=${LINT_TIDY_DIRS:-base sigs protocol storage node agent}
status=0

cxx_files() {  # first-party C++ sources and headers under the given directories, not generated
  find "$@" -type f \( -name '*.cpp' -o -name '*.hpp' \) -not -path '*/build/*' | sort |
    while read -r f; do head -n 3 "$f" | grep -q 'GENERATED' || echo "$f"; done
}

if [ -z "$only" ] || [ "$only" = format ]; then
  mapfile -t files < <(cxx_files base sigs protocol storage node agent tests cmake)
  if ! clang-format-14 --dry-run --Werror "${files[@]}" 2>/tmp/lint-format.$$; then
    n=$(grep -c 'error:' /tmp/lint-format.$$ || true)
    nf=$(grep 'error:' /tmp/lint-format.$$ | cut -d: -f1 | sort -u | wc -l)
    head -n 60 /tmp/lint-format.$$
    echo "lint: clang-format: $n places in $nf files differ from .clang-format" \
         "(fix: clang-format-14 -i FILE)" >&2
    status=1
  else
    echo "lint: clang-format: ${#files[@]} files clean"
  fi
  rm -f /tmp/lint-format.$$
fi

if [ -z "$only" ] || [ "$only" = tidy ]; then
  if [ ! -f "$build/compile_commands.json" ]; then
    echo "lint: $build/compile_commands.json missing (configure a tree first)" >&2
    exit 2
  fi
  # Only files the tree compiles (a directory left out of the build has no compile command).
  mapfile -t files < <(cxx_files $tidy_dirs | grep '\.cpp$' | grep -Ev '_(test|fuzz|bench)\.cpp$' |
                       while read -r f; do
                         grep -q "\"file\": \"$PWD/$f\"" "$build/compile_commands.json" && echo "$f"
                       done)
  log=$build/lint-tidy.log  # the whole output, notes and fix-its included
  if ! printf '%s\n' "${files[@]}" |
       xargs -P "$jobs" -n 1 clang-tidy-14 -p "$build" --quiet >"$log" 2>&1; then
    grep -E 'error:|warning:' "$log" | sort -u
    n=$(grep -E 'error:' "$log" | sort -u | wc -l)
    echo "lint: clang-tidy: $n findings in ${#files[@]} files (config: .clang-tidy; $log)" >&2
    status=1
  else
    echo "lint: clang-tidy: ${#files[@]} files clean"
  fi
fi
exit $status
