#!/usr/bin/env bash
# Builds qgemm and runs every CPU test: a release build (incl. compiling the whole kernel catalog
# for sm_80, sm_89, sm_90a with NVRTC and gfx90a with hiprtc), the Python package with PyPI torch
# on the CPU, the wheel in a fresh venv, the vLLM/SGLang/transformers/torchao integrations, an
# ASan/UBSan build, a ThreadSanitizer build of the multi-threaded tests, and bounded fuzzers.
# Needs no GPU. Usage: scripts/test.sh [build-dir-prefix]
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  -*) echo "test.sh: unknown option $1 (usage: scripts/test.sh [build-dir-prefix])" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
prefix=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)

echo "== format: .clang-format (scripts/check_format.sh)"
if command -v clang-format-14 >/dev/null || command -v clang-format >/dev/null; then
  scripts/check_format.sh
else
  echo "skipped: no clang-format (Debian: apt-get install clang-format; .ci/run installs it)"
fi

echo "== release build"
cmake -S . -B "$prefix-release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix-release" -j "$jobs"
(cd "$prefix-release" && ctest --output-on-failure -j "$jobs")

echo "== Python package tests (ctypes binding over the release library, torch ops on the CPU)"
QGEMM_PYENV="${QGEMM_PYENV:-$prefix-pyenv}" python/tests/run.sh "$prefix-release/libqgemm.so"

echo "== packaging: the wheel in a fresh venv, consumer projects of an install (scripts/test_dist.sh)"
QGEMM_PYENV="${QGEMM_PYENV:-$prefix-pyenv}" scripts/test_dist.sh "$prefix"

echo "== engine integrations: vLLM, SGLang, transformers, torchao on the CPU (own venv)"
ipy=$(scripts/python_env.sh "${QGEMM_PYENV:-$prefix-pyenv}-integrations" python/requirements-ci.txt | tail -1)
python/tests/run_integrations.sh "$ipy" "$prefix-release/libqgemm.so"

echo "== ASan/UBSan build (catalog compile tests run once, above)"
cmake -S . -B "$prefix-asan" -DCMAKE_BUILD_TYPE=Debug -DQG_SANITIZE=ON -DQG_BUILD_BENCH=OFF >/dev/null
cmake --build "$prefix-asan" -j "$jobs"
(cd "$prefix-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs" -LE catalog)

echo "== ThreadSanitizer build (the multi-threaded tests: launches, workspaces, JIT cache)"
cmake -S . -B "$prefix-tsan" -DCMAKE_BUILD_TYPE=Debug -DQG_TSAN=ON -DQG_BUILD_BENCH=OFF >/dev/null
cmake --build "$prefix-tsan" -j "$jobs" --target test_runtime_errors test_jit_cache qg_fake_cuda \
  test_db_fresh
(cd "$prefix-tsan" && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j "$jobs" \
   -R '^(test_runtime_errors|test_jit_cache|test_db_fresh)$')

echo "== fuzzers: database, HF config, --from-record, host API (libFuzzer, ASan/UBSan; bounded)"
tests/fuzz/run.sh "$prefix-fuzz"
