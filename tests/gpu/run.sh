#!/usr/bin/env bash
# GPU runner for the device machine: builds qgemm there, runs every GPU test program (each
# prints "N passed, N failed"), proves the JIT disk cache across processes, and optionally runs
# the benches. Logs go to $OUT (the device tool brings back at most 8 files).
#   tests/gpu/run.sh [--bench] [--tune SCHEMES] [--tune-m LIST] [--only NAME[,NAME]|--no-tests]
#   --tune: qgemm tune --model llama-3-8b for SCHEMES (cold JIT cache, then a rerun that must
#   find everything tuned), database to $OUT/tuning.json; --bench then dispatches with it.
#   --python: torch op tests (tests/gpu/python_gpu_test.py); --e2e MODELS: e2e_llama.py
#   --ncu BENCH_FILTER: Nsight Compute on the first qgemm kernel launched by bench_gemm for
#   the benchmarks matching BENCH_FILTER (e.g. 'gemm/w4a16/down/M:1/'), to $OUT/ncu.txt
#   --peers: bench/torch_compare.py --peers $PEERS_ARGS (torchao/mslk/gemlite from the carried
#   .whl/) to $OUT/peers.json, peers.md, peers.log
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
OUT=${OUT:-/tmp/qgemm-out}
mkdir -p "$OUT"
bench=0
peers=0
only=""
tune=""
tune_m=""
notests=0
python_tests=0
e2e=""
ncu_filter=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=1 ;;
    --peers) peers=1 ;;
    --only) only=$2; shift ;;
    --tune) tune=$2; shift ;;
    --tune-m) tune_m=$2; shift ;;
    --no-tests) notests=1 ;;
    --python) python_tests=1 ;;
    --e2e) e2e=$2; shift ;;
    --ncu) ncu_filter=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

deps=$root/.deps/root/usr
[ -d "$deps" ] || echo "note: no .deps (run scripts/fetch_device_deps.sh here and carry .deps)"
export LD_LIBRARY_PATH=$deps/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
log=$OUT/tests.log
: > "$log"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
  nvcc --version | tail -1; } > "$OUT/env.txt" 2>&1

t0=$(date +%s)
if ! { cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$deps" &&
       cmake --build build-gpu -j "$(nproc)"; } > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  echo "BUILD FAILED"
  exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"

export QGEMM_CACHE_DIR=/tmp/qgemm-jit-cache
rm -rf "$QGEMM_CACHE_DIR"
summary=()
fail=0
run_test() { # name, args...
  local name=$1; shift
  local bin=build-gpu/tests/$name
  [ -x "$bin" ] || bin=build-gpu/$name
  if [ ! -x "$bin" ]; then summary+=("$name: MISSING"); fail=1; return; fi
  echo "===== $name $*" >> "$log"
  local s=$(date +%s)
  timeout 900 "$bin" "$@" >> "$log" 2>&1
  local rc=$?
  local line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  summary+=("$name $*: rc=$rc ${line:-no summary} ($(( $(date +%s) - s )) s)")
  [ $rc -eq 0 ] || fail=1
}
wanted() { [ $notests -eq 0 ] && { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }; }

# Runtime first: cold compiles into an empty cache, then a second process loads from disk.
if wanted gpu_runtime; then
  run_test gpu_runtime --phase cold
  run_test gpu_runtime --phase warm
fi
for bin in build-gpu/tests/gpu_*; do
  name=$(basename "$bin")
  [ "$name" = gpu_runtime ] && continue
  wanted "$name" && run_test "$name"
done
wanted example_minimal && run_test example_minimal

dbflag=()
if [ -n "$tune" ]; then
  export QGEMM_CACHE_DIR=/tmp/qgemm-tune-cache
  rm -rf "$QGEMM_CACHE_DIR" "$OUT/tuning.json"
  margs=()
  [ -n "$tune_m" ] && margs=(--m "$tune_m")
  s=$(date +%s)
  build-gpu/qgemm tune --model llama-3-8b --schemes "$tune" "${margs[@]}" -o "$OUT/tuning.json" \
    --verbose > "$OUT/tune.log" 2>&1
  rc=$?
  t1=$(( $(date +%s) - s ))
  s=$(date +%s)
  build-gpu/qgemm tune --model llama-3-8b --schemes "$tune" "${margs[@]}" -o "$OUT/tuning.json" \
    >> "$OUT/tune.log" 2>&1
  rc2=$?
  t2=$(( $(date +%s) - s ))
  build-gpu/qgemm db validate "$OUT/tuning.json" >> "$OUT/tune.log" 2>&1
  rc3=$?
  for m in 1 7 16 100 4096; do
    build-gpu/qgemm explain --db "$OUT/tuning.json" --scheme w4a16 --n 6144 --k 4096 --m $m --zero-point 1 >> "$OUT/tune.log" 2>&1
    build-gpu/qgemm explain --db "$OUT/tuning.json" --scheme w4a16 --n 5120 --k 3072 --m $m --zero-point 1 >> "$OUT/tune.log" 2>&1
  done
  summary+=("tune $tune: cold ${t1} s (rc=$rc), rerun ${t2} s (rc=$rc2), validate rc=$rc3")
  [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] || fail=1
  grep -E "WRONG|tuned [0-9]+, skipped" "$OUT/tune.log" | tail -8
  python3 scripts/tune_gain.py "$OUT/tune.log" | tee -a "$OUT/tune.log"
  dbflag=(--tuning-db "$OUT/tuning.json")
fi

if [ $bench -eq 1 ] && [ -f bench/torch_compare.py ]; then
  echo "===== bench/torch_compare.py" >> "$log"
  PYTHONUNBUFFERED=1 QGEMM_LIBRARY=$root/build-gpu/libqgemm.so PYTHONPATH=$root/python \
    timeout 900 python3 bench/torch_compare.py "${dbflag[@]}" --out "$OUT/bench.json" ${BENCH_ARGS:-} \
    > "$OUT/bench.log" 2>&1
  echo "bench rc=$?"
  tail -60 "$OUT/bench.log"
fi

if [ $peers -eq 1 ]; then
  site=$(scripts/install_peer_wheels.sh /tmp/site) || site=/tmp/site
  s=$(date +%s)
  PYTHONUNBUFFERED=1 QGEMM_LIBRARY=$root/build-gpu/libqgemm.so PYTHONPATH=$root/python:$site \
    timeout 900 python3 bench/torch_compare.py --peers "${dbflag[@]}" --out "$OUT/peers.json" \
    ${PEERS_ARGS:-} > "$OUT/peers.log" 2>&1
  rc=$?
  summary+=("peers: rc=$rc $(grep -E '^targets: ' "$OUT/peers.log" | tail -1) ($(( $(date +%s) - s )) s)")
  [ $rc -eq 0 ] || fail=1
  grep -E 'skipped|FAILED|^\[target\]|MISSED|^targets: ' "$OUT/peers.log" | tail -60
fi

pyenv=(env PYTHONUNBUFFERED=1 QGEMM_LIBRARY=$root/build-gpu/libqgemm.so PYTHONPATH=$root/python)
if [ $python_tests -eq 1 ]; then
  s=$(date +%s)
  timeout 600 "${pyenv[@]}" python3 tests/gpu/python_gpu_test.py > "$OUT/python_gpu.log" 2>&1
  rc=$?
  summary+=("python_gpu_test: rc=$rc $(grep -E '[0-9]+ passed' "$OUT/python_gpu.log" | tail -1) ($(( $(date +%s) - s )) s)")
  [ $rc -eq 0 ] || fail=1
fi
if [ -n "$e2e" ]; then
  s=$(date +%s)
  timeout 900 "${pyenv[@]}" python3 tests/gpu/e2e_llama.py --models "$e2e" --json "$OUT/e2e.json" \
    > "$OUT/e2e.log" 2>&1
  rc=$?
  summary+=("e2e $e2e: rc=$rc ($(( $(date +%s) - s )) s)")
  [ $rc -eq 0 ] || fail=1
  tail -30 "$OUT/e2e.log"
fi

if [ -n "$ncu_filter" ]; then
  # Kernels are named qg_*; cuBLASLt's (nvjet_*) and the bench's own probes are skipped.
  timeout 300 ncu -k regex:'^qg_' -c 1 --section SpeedOfLight --section Occupancy \
    --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
    --section SchedulerStats --section ComputeWorkloadAnalysis build-gpu/bench/bench_gemm \
    --benchmark_filter="$ncu_filter" --benchmark_min_time=0.01 > "$OUT/ncu.txt" 2>&1
  rc=$?
  summary+=("ncu $ncu_filter: rc=$rc ($(grep -c 'Section:' "$OUT/ncu.txt") sections)")
  [ $rc -eq 0 ] || fail=1
fi

echo "---- summary"
printf '%s\n' "${summary[@]}"
exit $fail
