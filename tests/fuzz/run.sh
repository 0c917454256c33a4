#!/usr/bin/env bash
# Fuzzes the parsers and the host API for a bounded time under ASan/UBSan (with
# float-cast-overflow): the tuning database parser, the HF config parser, --from-record files,
# the host C API's argument checks. Uses clang's libFuzzer when clang has it, else the
# deterministic mutation driver (tests/fuzz/driver.c). A failing input is copied into
# BUILD/fuzz-failures/ (make it a regression: tests/fuzz/regressions/<target>/) and the exit
# status is 1. Usage: tests/fuzz/run.sh [BUILD_DIR] (default build-fuzz); QG_FUZZ_SECONDS per
# target (default 40).
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-fuzz}
secs=${QG_FUZZ_SECONDS:-40}
targets="db hf_config record api"
jobs=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

libfuzzer=0
if command -v clang >/dev/null &&
   echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
   clang -x c -fsanitize=fuzzer,address - -o /tmp/qg-fuzz-probe.$$ 2>/dev/null; then
  libfuzzer=1
fi
rm -f /tmp/qg-fuzz-probe.$$
if [ $libfuzzer = 1 ]; then
  # clang does not know gcc's -Wno-format-truncation (in QG_WARN)
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DQG_SANITIZE=ON \
    -DQG_FUZZ=ON -DQG_BUILD_BENCH=OFF -DCMAKE_C_FLAGS=-Wno-unknown-warning-option >/dev/null
  cmake --build "$build" -j "$jobs" --target $(for t in $targets; do printf 'fuzz_%s ' $t; done)
else
  echo "run.sh: clang with libFuzzer not found: the mutation driver under gcc's sanitizers"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DQG_SANITIZE=ON -DQG_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS=-fsanitize=float-cast-overflow >/dev/null
  cmake --build "$build" -j "$jobs" --target $(for t in $targets; do printf 'fuzz_%s_replay ' $t; done)
fi
fail=0
mkdir -p "$build/fuzz-failures"
for t in $targets; do
  work="$build/fuzz-work/$t"
  rm -rf "$work" && mkdir -p "$work/corpus"
  seeds=("$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regressions/$t")
  echo "== fuzz $t (${secs} s)"
  if [ $libfuzzer = 1 ]; then
    dict=()
    [ -f "$src/tests/fuzz/$t.dict" ] && dict=(-dict="$src/tests/fuzz/$t.dict")
    if ! (cd "$work" && "$OLDPWD/$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=20 \
          -rss_limit_mb=4096 -max_len=8192 -close_fd_mask=3 -print_final_stats=1 "${dict[@]}" \
          corpus "${seeds[@]}" 2>&1 | tail -n 40); then
      fail=1
    fi
    cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$build/fuzz-failures/" 2>/dev/null || true
  else
    if ! (cd "$work" && "$OLDPWD/$build/tests/fuzz/fuzz_${t}_replay" --mutate "$secs" "${seeds[@]}" 2>&1 | tail -n 40); then
      fail=1
      cp "$work/fuzz-last-input" "$build/fuzz-failures/$t-last-input" 2>/dev/null || true
    fi
  fi
done
if [ $fail = 1 ]; then
  echo "fuzzing found failures: inputs in $build/fuzz-failures/" >&2
  exit 1
fi
echo "fuzzing: no failure in ${secs} s per target"
