#!/usr/bin/env bash
# run.sh: set up, build (Release) and run the main job: a site node on its embedded LMDB
# default (data in ${STROP_DATA:-/var/lib/strop}, native API on 127.0.0.1:7420). Until the
# node is built it falls back to computing signatures for the sample corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
node=build/release/node/strop-node
if [ -x "$node" ]; then
  exec "$node" serve --data "${STROP_DATA:-/var/lib/strop}" "$@"
fi
shared=${STROP_SHARED_DIR:-../shared}
exec build/release/agent/cli/strop sig "$shared/corpus/spam" "$shared/corpus/ham" "$shared/corpus/hard-ham"
