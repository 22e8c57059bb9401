#!/usr/bin/env bash
# conffile.sh node|milter|agent PROGRAM VERSION: print the packaged /etc/strop/ file for one
# program, made from PROGRAM --print-config with no config file (the built-in defaults).
# Every key stays, commented out ("#key = value"), under its doc line, so the file documents
# every default and an unchanged file follows the defaults of the installed version.
set -euo pipefail
kind=$1 program=$2 version=$3
case "$kind" in
  node) name="strop-node" file=node.toml
        out=$(env -i PATH=/usr/bin:/bin "$program" --config /dev/null --print-config) ;;
  milter) name="strop-milter" file=milter.toml
        out=$(env -i PATH=/usr/bin:/bin "$program" --print-config) ;;
  # HOME='~' makes the per-user default read "~/.config/strop/identity.json" (the CLI expands
  # a leading ~/ itself).
  agent) name="strop" file=agent.toml
        out=$(env -i PATH=/usr/bin:/bin HOME='~' "$program" --print-config) ;;
  *) echo "usage: $0 node|milter|agent PROGRAM VERSION" >&2; exit 64 ;;
esac
echo "# /etc/strop/$file: configuration of $name $version (TOML)."
echo "#"
echo "# Generated from \`$name --print-config\`: every key with its built-in default, commented"
echo "# out. Uncomment a key to change it; strop.toml(5) describes every key. \`$name"
echo "# --config /etc/strop/$file --print-config\` shows the effective configuration."
case "$kind" in
  node) echo "# Changes apply on restart; \`systemctl reload strop-node\` applies the log keys and TLS." ;;
  milter) echo "# \`systemctl reload strop-milter\` applies the log keys and the rules file." ;;
  agent) echo "# Read by strop(1) when ~/.config/strop/agent.toml does not exist." ;;
esac
printf '%s\n' "$out" | awk -v kind="$kind" '
  NR == 1 && /^# .*configuration/ { next }              # the program'"'"'s own title line
  kind == "agent" && /^# config file:/ { next }
  /^# .*\(from: [^)]*\)$/ { sub(/ \(from: [^)]*\)$/, ""); print; next }
  /^\[/ || /^$/ || /^#/ { print; next }
  kind == "agent" { sub(/  # [^"]*$/, "") }             # the CLI marks sources after the value
  { print "#" $0 }
'
