#!/usr/bin/env bash
# Build every libFuzzer target with clang (+ASan/UBSan) and run each briefly
# on its committed seed corpus. FUZZ_SECONDS (default 10) per target, JOBS
# (default 2) targets at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-10}
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DTSPS_BUILD_FUZZERS=ON -DTSPS_SANITIZE=address,undefined -DTSPS_WERROR=ON \
  -DTSPS_BUILD_BENCHMARKS=OFF -DTSPS_BUILD_EXAMPLES=OFF >/dev/null
targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
# shellcheck disable=SC2086
cmake --build build/fuzz -j"${JOBS:-2}" --target $targets >/dev/null
# One target per core at a time; the first failure stops the run.
run_one() {
  name=$1
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name ${secs}s"
  if ! build/fuzz/tests/fuzz/"$name" -max_total_time="$secs" -timeout=30 \
    -max_len=8192 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    tail -40 "$work.log"
    echo "fuzz: $name FAILED"
    return 1
  fi
  rm -rf "$work" "$work.log"
}
pids=()
for name in $targets; do
  if [ "${#pids[@]}" -ge "${JOBS:-2}" ]; then
    wait "${pids[0]}" || { kill "${pids[@]:1}" 2>/dev/null; exit 1; }
    pids=("${pids[@]:1}")
  fi
  run_one "$name" &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" || { kill "${pids[@]}" 2>/dev/null; exit 1; }
done
echo "fuzz: all targets ran clean"
