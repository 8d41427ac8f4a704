#!/bin/sh
# run.sh - ctest entry of the browser suite: installs playwright-core from
# package-lock.json into the build dir (never into the source tree), then
# runs run_web_tests.mjs. Exit 77 (a loud skip) when chromium, node or sipp
# is missing or npm cannot install; CI installs them (scripts/deps.sh test).
# Usage: run.sh TSPSD TSPSCTL SIPP SCENARIOS ARTIFACTS [DOCS_IMG]
# TSPS_WEB_SUITE=related runs the related-items suite (related_web.mjs).
set -u
src=$(cd "$(dirname "$0")" && pwd)
art=$5
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node missing (apt-get install nodejs npm): browser tests NOT run"
  exit 77
fi
if [ ! -x /usr/lib/chromium/chromium ] && [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: chromium missing (apt-get install chromium): browser tests NOT run"
  exit 77
fi
if [ ! -x "$3" ]; then
  echo "SKIP: sipp missing (apt-get install sip-tester): browser tests NOT run"
  exit 77
fi
run=$art/runner
mkdir -p "$run"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$src"/*.xml "$run/"
if [ ! -d "$run/node_modules/playwright-core" ] ||
   ! cmp -s "$src/package-lock.json" "$run/node_modules/.lock-copy"; then
  if ! (cd "$run" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "SKIP: npm ci failed (no registry?): browser tests NOT run"
    exit 77
  fi
  cp "$src/package-lock.json" "$run/node_modules/.lock-copy"
fi
cd "$run" || exit 1
repo=$(cd "$src/../.." && pwd)
if [ $# -ge 6 ]; then
  exec node run_web_tests.mjs --tspsd "$1" --tspsctl "$2" --sipp "$3" \
    --scenarios "$4" --artifacts "$art" --repo "$repo" --docs-img "$6"
fi
exec node run_web_tests.mjs --tspsd "$1" --tspsctl "$2" --sipp "$3" \
  --scenarios "$4" --artifacts "$art" --repo "$repo" \
  --suite "${TSPS_WEB_SUITE:-main}"
