#!/usr/bin/env bash
# Install the build to a temp prefix, then build examples/embed against it
# twice: with find_package(tsps) (CMake package) and with pkg-config (tsps.pc).
# Usage: install_embed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -L "$work/prefix/lib/libtsps.so.0" -o -L "$work/prefix/lib/x86_64-linux-gnu/libtsps.so.0" \
  || { echo "FAIL: soname link libtsps.so.0 not installed"; exit 1; }
cmake -S "$src/examples/embed" -B "$work/cm" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name libtsps.so.0 | head -1)")
out=$(LD_LIBRARY_PATH="$libdir" "$work/cm/tsps_embed" --at 1795424400 "+49 89 111111")
echo "$out" | grep -q '"code":"VIP"' || { echo "FAIL (cmake package): $out"; exit 1; }
pcdir=$(dirname "$(find "$work/prefix" -name tsps.pc | head -1)")
cc -o "$work/pc_embed" "$src/examples/embed/embed.c" \
  $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs tsps)
out=$(LD_LIBRARY_PATH="$libdir" "$work/pc_embed" "anonymous")
echo "$out" | grep -q '"caller_kind":"withheld"' || { echo "FAIL (pkg-config): $out"; exit 1; }
echo "install + find_package(tsps) + pkg-config tsps: ok"
