#!/usr/bin/env bash
# The whole test suite: installs what is missing, then
#  1. a -Werror build and every CTest entry (Check suites + integration),
#  2. the same suites again under ASan+UBSan,
#  3. short fuzz runs of every libFuzzer target (a clang -Werror build);
# clang-format is checked first, as it is the cheapest to fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=${JOBS:-2}
export TSPS_TAP=
echo "== clang-format"
git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror
echo "== build (-Werror)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSPS_WERROR=ON >/dev/null
cmake --build build/ci -j"$jobs"
echo "== tests"
ctest --test-dir build/ci --output-on-failure -j"$jobs"
echo "== build (ASan+UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DTSPS_WERROR=ON \
  -DTSPS_SANITIZE=address,undefined -DTSPS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/asan -j"$jobs"
echo "== tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure \
  -j"$jobs" -LE noasan
if [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  scripts/fuzz-smoke.sh
fi
echo "== all passed"
