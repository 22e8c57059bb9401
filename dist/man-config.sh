#!/usr/bin/env bash
# man-config.sh PROGRAM: run PROGRAM --print-config with no config file and turn its output
# (the typed config table: section, key, default, doc line) into scdoc text for strop.toml(5),
# so the key reference in the man page is never copied by hand. HOME='~' makes the CLI's
# per-user defaults read "~/.config/..." instead of the build user's home.
set -euo pipefail
env -i PATH=/usr/bin:/bin HOME='~' "$1" --print-config | awk '
  function esc(s) { gsub(/\\/, "\\\\", s); gsub(/\*/, "\\*", s); gsub(/_/, "\\_", s); return s }
  NR == 1 && /^# .*configuration/ { next }
  /^# config file:/ { next }
  /^\[/ { section = substr($0, 2, length($0) - 2); printf "## [%s]\n\n", esc(section); next }
  /^# / { doc = substr($0, 3); sub(/ \(from: [^)]*\)$/, "", doc); next }
  /^$/ { next }
  {
    line = $0
    # the CLI marks the source after the value ("timeout = 10  # default")
    if (match(line, /  # [^"]*$/)) line = substr(line, 1, RSTART - 1)
    eq = index(line, " = ")
    printf "*%s* = %s\n", esc(substr(line, 1, eq - 1)), esc(substr(line, eq + 3))
    if (doc != "") printf "\t%s\n", esc(doc)
    printf "\n"
    doc = ""
  }
'
