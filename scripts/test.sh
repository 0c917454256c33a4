#!/usr/bin/env bash
# Builds qgemm and runs every CPU test: a release build (incl. compiling the whole kernel catalog
# for sm_80, sm_89, sm_90a with NVRTC and gfx90a with hiprtc), then an ASan/UBSan build.
# Needs no GPU. Usage: scripts/test.sh [build-dir-prefix]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build"
cmake -S . -B "$prefix-release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix-release" -j "$jobs"
(cd "$prefix-release" && ctest --output-on-failure -j "$jobs")

echo "== Python package tests (ctypes binding over the release library; no GPU, no torch needed)"
python/tests/run.sh "$prefix-release/libqgemm.so"

echo "== ASan/UBSan build (catalog compile tests run once, above)"
cmake -S . -B "$prefix-asan" -DCMAKE_BUILD_TYPE=Debug -DQG_SANITIZE=ON -DQG_BUILD_BENCH=OFF >/dev/null
cmake --build "$prefix-asan" -j "$jobs"
(cd "$prefix-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs" -LE catalog)
