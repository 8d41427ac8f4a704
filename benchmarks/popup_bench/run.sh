#!/bin/sh
# run.sh - run popup_bench.mjs from the build dir with playwright-core
# installed there from tests/web/package-lock.json (never into the source tree).
# Usage: run.sh BUILD_SUBDIR TSPSD TSPSCTL SIPP [CALLS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
web=$here/../../tests/web
run=$1
mkdir -p "$run"
cp "$web/package.json" "$web/package-lock.json" "$web/lib.mjs" "$here/popup_bench.mjs" "$run/"
[ -d "$run/node_modules/playwright-core" ] ||
  (cd "$run" && npm ci --no-audit --no-fund --loglevel=error)
cd "$run"
exec node popup_bench.mjs --tspsd "$2" --tspsctl "$3" --sipp "$4" \
  --scenarios "$here/../../tests/sip/scenarios" --calls "${5:-${POPUP_CALLS:-20}}"
