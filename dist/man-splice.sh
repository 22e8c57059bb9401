#!/usr/bin/env bash
# man-splice.sh PAGE.scd NODE_KEYS MILTER_KEYS AGENT_KEYS VERSION: print PAGE.scd with
# @NODE_KEYS@, @MILTER_KEYS@ and @AGENT_KEYS@ lines replaced by the generated key references
# (dist/man-config.sh) and @VERSION@ by the project version; scdoc reads the result.
set -euo pipefail
page=$1 node=$2 milter=$3 agent=$4 version=$5
while IFS= read -r line; do
  case "$line" in
    @NODE_KEYS@) cat "$node" ;;
    @MILTER_KEYS@) cat "$milter" ;;
    @AGENT_KEYS@) cat "$agent" ;;
    *) printf '%s\n' "${line//@VERSION@/$version}" ;;
  esac
done < "$page"
