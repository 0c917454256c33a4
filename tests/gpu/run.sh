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
#   --sanitize [--sanitize-tools LIST]: instead of the plain runs, the kernel tests (--only
#   limits them) on their reduced case list (QGEMM_GPU_REDUCED=1: every kernel family, small
#   shapes) under compute-sanitizer memcheck, racecheck, synccheck and initcheck (LIST: some
#   of them); one log per tool in $OUT/sanitize-TOOL.log, a line per tool in the summary and
#   $OUT/sanitize.txt. Hazards in kernels other than ours (qg_*: cuBLASLt's nvjet_* and
#   the like) are listed apart and not counted; each of our hazards and a failing test fail.
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
sanitize=0
sanitize_tools="memcheck,racecheck,synccheck,initcheck"
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
    --sanitize) sanitize=1 ;;
    --sanitize-tools) sanitize=1; sanitize_tools=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
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

# CUTLASS headers of the kernels/cutlass families (scripts/fetch_cutlass.sh packed them into the
# carried .deps): without them those variants are skipped (gpu_cutlass says so).
if [ -f .deps/cutlass-include.tar.xz ] && [ ! -e .cutlass/include/cutlass/version.h ]; then
  mkdir -p .cutlass && tar xJf .deps/cutlass-include.tar.xz -C .cutlass
fi

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

# One sanitizer record per error: kernel name from its first device frame ("at NAME+0x...",
# or racecheck's "in NAME"), before any host backtrace. Prints "ours|vendor<TAB>kernel<TAB>
# first line" per record; a record without a kernel counts as ours.
sanitizer_records() {
  awk '
    function flush() {
      if (inrec) printf "%s\t%s\t%s\n", (kern ~ /^qg_/ || kern == "") ? "ours" : "vendor",
                        (kern == "" ? "?" : kern), head
      inrec = 0
    }
    /^========= [^ ]/ {
      flush()
      if ($0 ~ /ERROR SUMMARY|COMPUTE-SANITIZER|LEAK SUMMARY|Saved host backtrace|Target application|Program hit/) next
      inrec = 1; head = $0; kern = ""; host = 0
    }
    inrec && /Host Frame|host backtrace/ { host = 1 }
    inrec && !host && kern == "" {
      if (match($0, /at [^ +]+\+0x/)) kern = substr($0, RSTART + 3, RLENGTH - 6)
      else if (match($0, / in [A-Za-z_][A-Za-z0-9_]*$/)) kern = substr($0, RSTART + 4)
    }
    END { flush() }' "$1"
}

# The kernel tests under one compute-sanitizer tool; appends a line to the summary.
sanitize_tool() { # tool
  local tool=$1 slog=$OUT/sanitize-$1.log opts=() ours=0 vendor=0 bad_tests=()
  : > "$slog"
  case $tool in
    racecheck) opts=(--racecheck-report analysis) ;;
    initcheck) opts=(--track-unused-memory no) ;;
  esac
  local s=$(date +%s)
  for name in gpu_weight_only gpu_dynamic_act gpu_sp24 gpu_sp24_wg gpu_cublaslt; do
    wanted "$name" || continue
    local one=$OUT/.sanitize-$tool-$name.log
    echo "===== $tool $name" >> "$slog"
    QGEMM_GPU_REDUCED=1 QGEMM_VERBOSE=1 timeout "${SANITIZE_TIMEOUT:-1800}" \
      compute-sanitizer --tool "$tool" --target-processes all --report-api-errors no \
      --print-limit 1000 "${opts[@]}" --log-file "$one" \
      "build-gpu/tests/$name" > "$OUT/.sanitize-out" 2>&1
    local rc=$?
    grep -E '[0-9]+ passed, [0-9]+ failed|FAIL' "$OUT/.sanitize-out" | tail -5 >> "$slog"
    # which variants the run compiled or loaded: the families it covered
    grep -oE 'qgemm: [a-z0-9_][a-z0-9_.]*: (compiled|disk cache hit)' "$OUT/.sanitize-out" |
      sed -E 's/^qgemm: ([a-z0-9_]+).*/\1/' >> "$OUT/.sanitize-families"
    cat "$one" >> "$slog"
    sanitizer_records "$one" > "$OUT/.records"
    local o=$(grep -c '^ours' "$OUT/.records") v=$(grep -c '^vendor' "$OUT/.records")
    local total=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$one" | awk '{n += $3} END {print n + 0}')
    ours=$((ours + o)); vendor=$((vendor + v))
    # past --print-limit the records undercount: the unprinted rest is counted as ours
    [ "$total" -gt $((o + v)) ] && ours=$((ours + total - o - v))
    { echo "---- $tool $name: rc=$rc, ours $o, vendor $v, tool's total $total"
      grep '^ours' "$OUT/.records" | cut -f2,3 | sort | uniq -c | sort -rn | head -20
      [ "$v" -gt 0 ] && { echo "vendor kernels (not counted):"
        grep '^vendor' "$OUT/.records" | cut -f2 | sort | uniq -c | sort -rn | head -20; }
    } >> "$OUT/sanitize.txt"
    [ $rc -eq 0 ] || bad_tests+=("$name rc=$rc")
    rm -f "$one"
  done
  local line="sanitize $tool: $ours errors in our kernels, $vendor in vendor kernels (listed apart)"
  [ ${#bad_tests[@]} -gt 0 ] && line+=", failing: ${bad_tests[*]}"
  summary+=("$line ($(( $(date +%s) - s )) s)")
  echo "$line" >> "$OUT/sanitize.txt"
  [ $ours -eq 0 ] && [ ${#bad_tests[@]} -eq 0 ] || fail=1
}

if [ $sanitize -eq 1 ]; then
  notests=0
  : > "$OUT/sanitize.txt"
  : > "$OUT/.sanitize-families"
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer not found"; exit 1; }
  for tool in ${sanitize_tools//,/ }; do
    case $tool in
      memcheck|racecheck|synccheck|initcheck) sanitize_tool "$tool" ;;
      *) echo "run.sh: unknown sanitizer tool $tool" >&2; exit 2 ;;
    esac
  done
  # Every CUDA kernel family of the catalog must have been compiled or loaded by some test.
  missing=$(build-gpu/qgemm list | grep -v 'library call' | sed -E 's/\..*//; s/ .*//' | sort -u |
            grep -v '^hip_' | comm -23 - <(sort -u "$OUT/.sanitize-families"))
  if [ -n "$missing" ]; then
    summary+=("sanitize: families no test ran: $(echo $missing)")
    fail=1
  else
    summary+=("sanitize: every CUDA kernel family ran")
  fi
  rm -f "$OUT/.sanitize-out" "$OUT/.records" "$OUT/.sanitize-families"
  notests=1
fi

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
