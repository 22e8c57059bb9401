#!/usr/bin/env bash
# run.sh: set up, build (Release) and run the main job: a site node on its embedded LMDB
# default (data in ${STROP_DATA:-/var/lib/strop}, native API on 127.0.0.1:7420). Arguments
# after the script's name go to `strop-node serve` (e.g. --listen, --config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/release/node/strop-node serve --data "${STROP_DATA:-/var/lib/strop}" "$@"
