#!/usr/bin/env bash
# The whole test suite: installs what is missing, then
#  1. a -Werror build and every CTest entry (Check suites + integration),
#  2. the same suites again under ASan+UBSan,
#  3. the engine's multi-threaded suites under TSan,
#  4. short fuzz runs of every libFuzzer target (a clang -Werror build);
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
echo "== engine threads (TSan)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSPS_WERROR=ON \
  -DTSPS_SANITIZE=thread -DTSPS_TEST_PARTS=libtsps -DTSPS_BUILD_BENCHMARKS=OFF \
  -DTSPS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/tsan -j"$jobs" --target check_cache check_store \
  check_route check_history
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure \
  -R '^check_(cache|store|route|history)$'
if [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  scripts/fuzz-smoke.sh
fi
echo "== all passed"
