#!/usr/bin/env bash
# The hardware backlog in one device call: what has run only on the CPU (emulator, NVRTC) since
# the last GPU session, in order of importance, each step capped so that the whole call stays
# inside --budget (the device tool allows 600 s a call). Logs and a summary go to $OUT.
#   tests/gpu/backlog.sh [--budget SEC] [STEP ...]      (default: every step, in this order)
# Steps:
#   build        build-gpu (tests/gpu/run.sh) and gpu_dynamic_act (every W4A8 variant, the
#                w4a8_fp8_wgmma_rs ones included)
#   weight_only  gpu_weight_only on its reduced case list (every weight-only family: the
#                pipelined RS kernel wo_wgmma_rs_pipe, the float-zero-point families)
#   python_fzp   tests/gpu/python_gpu_test.py --only "float zero"
#   tune_rs_pipe qgemm tune --kernels wo_wgmma_rs_pipe on a copy of the shipped H100 database
#                (W4A16 and W8A16, Llama-3-8B, M = 128 .. 4096): each problem times the pipelined
#                RS kernels against the database's pick in one run (--verbose lists every time;
#                rs_pipe_db.json is the database to merge)
#   tune_w8a8_sk qgemm tune --kernels w8a8_*_wgmma_ws_sk (split-K) on a copy of the shipped
#                database, W8A8 fp8 and int8 at M = 16 .. 512 (w8a8_sk_db.json)
#   tune_w4a8    qgemm tune --schemes w4a8-fp8 (RS beside the mma.sync kernels) to w4a8.json
#   peers_w4a8   bench/torch_compare.py --peers with that database (mslk f8i4 is the peer)
#   cutlass      gpu_cutlass traced (QGEMM_CUTLASS_TRACE=1), then tests/gpu/cutlass_device_check
#   memcheck     tests/gpu/run.sh --sanitize --sanitize-tools memcheck
# and, not by default (a second call): racecheck, synccheck, initcheck (the other sanitizers);
#   peers_w8a8   bench/torch_compare.py --peers, W8A8 fp8 on qkv and down at M = 64-512 with
#                w8a8_sk_db.json (torchao / _scaled_mm / gemlite beside);
#   rs_pipe      bench_gemm, one kernel at a time (QGEMM_BENCH_KERNEL): wo_wgmma_rs against
#                wo_wgmma_rs_pipe on W4A16 gate_up / down at M = 128, 1024, 4096, cuBLASLt bf16
#                beside each (rs_pipe.md);
#   ab           scripts/ab_bench.sh .ab/base 'gemm/' (this tree against the one unpacked in
#                .ab/base: git archive REV | tar -x -C .ab/base; carry .ab too);
#   ao_e2e       tests/gpu/torchao_checkpoint_e2e.py (qgemm beside torchao from a torchao
#                checkpoint made on the device; ~25 GB of /tmp).
# Carry .deps and .whl (scripts/fetch_device_deps.sh). A step that does not fit what is left of
# the budget is skipped with a line saying so.
set -u
cd "$(dirname "$0")/../.."
budget=560
steps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget=$2; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    -*) echo "backlog.sh: unknown option $1" >&2; exit 2 ;;
    *) steps+=("$1") ;;
  esac
  shift
done
[ ${#steps[@]} -gt 0 ] || steps=(build weight_only python_fzp tune_rs_pipe tune_w8a8_sk tune_w4a8
                                 peers_w4a8 cutlass memcheck)
OUT=${OUT:-/tmp/qgemm-out}
mkdir -p "$OUT"
t0=$(date +%s)
left() { echo $((budget - ($(date +%s) - t0))); }
summary="$OUT/backlog.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
# run NAME CAP CMD...: CMD under timeout min(CAP, what is left), its log in $OUT/NAME.log
run() {
  local name=$1 cap=$2 l
  shift 2
  l=$(left)
  [ "$cap" -lt "$l" ] && l=$cap
  if [ "$l" -lt 20 ]; then note "SKIP $name: ${l}s left of the budget"; return 1; fi
  timeout "$l" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  note "$name: exit $rc after $(($(date +%s) - t0)) s (cap ${l}s)"
  tail -n 8 "$OUT/$name.log"
  return $rc
}
export PATH=/usr/local/cuda/bin:$PATH
export LD_LIBRARY_PATH=$PWD/.deps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export QGEMM_CACHE_DIR=/tmp/qgemm-jit-cache
B=build-gpu
cdc_pid=""

for step in "${steps[@]}"; do
  case $step in
    build)
      run build 240 bash tests/gpu/run.sh --only gpu_dynamic_act
      # CUTLASS's host-side check compiles with nvcc (minutes of CPU): start it now
      if [ -e .cutlass/include/cutlass/version.h ]; then
        (nvcc -std=c++17 -O2 -arch=sm_90a -DNDEBUG --expt-relaxed-constexpr -Ikernels/cutlass \
           -I.cutlass/include tests/gpu/cutlass_device_check.cu -o $B/cutlass_device_check -lcuda \
           > "$OUT/cdc_build.log" 2>&1) &
        cdc_pid=$!
      fi ;;
    weight_only)
      QGEMM_GPU_REDUCED=1 run weight_only 150 $B/tests/gpu_weight_only
      [ -f "$OUT/weight_only.log" ] && grep -E '^(wo_wgmma_rs_pipe|float zero points):' "$OUT/weight_only.log" | tee -a "$summary"
      ;;
    python_fzp)
      PYTHONPATH=python QGEMM_LIBRARY=$B/libqgemm.so run python_fzp 60 \
        python3 tests/gpu/python_gpu_test.py --only "float zero" ;;
    rs_pipe)
      : > "$OUT/rs_pipe.jsonl"
      for k in wo_wgmma_rs.wbits4.act2.bm64 wo_wgmma_rs.wbits4.act2.bm128 \
               wo_wgmma_rs_pipe.wbits4.act2.bm64.fzp0.pipe1 \
               wo_wgmma_rs_pipe.wbits4.act2.bm128.fzp0.pipe1 \
               wo_wgmma_rs_pipe.wbits4.act2.bm256.fzp0.pipe1; do
        QGEMM_BENCH_KERNEL=$k run "bench_$k" 60 $B/bench/bench_gemm \
          --benchmark_filter='gemm/w4a16/(gate_up|down)/M:(128|1024|4096)/' \
          --benchmark_out="$OUT/bench_$k.json" || break
        python3 - "$k" "$OUT/bench_$k.json" >> "$OUT/rs_pipe.jsonl" <<'PY'
import json, sys
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    print(json.dumps({"kernel": sys.argv[1], "name": b["name"], "us": b.get("us"),
                      "bf16_us": b.get("bf16_us")}))
PY
      done
      python3 - "$OUT/rs_pipe.jsonl" > "$OUT/rs_pipe.md" <<'PY'
import json, sys, collections
rows = collections.defaultdict(dict)
bf16 = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows[r["name"]][r["kernel"]] = r["us"]
    bf16[r["name"]] = r["bf16_us"]
kernels = sorted({k for v in rows.values() for k in v})
print("| case | bf16 cuBLASLt | " + " | ".join(kernels) + " |")
print("|---" * (len(kernels) + 2) + "|")
for name in sorted(rows):
    cells = ["%.1f" % rows[name][k] if rows[name].get(k) else "-" for k in kernels]
    print("| %s | %.1f | %s |" % (name, bf16[name] or 0, " | ".join(cells)))
PY
      tee -a "$summary" < "$OUT/rs_pipe.md" ;;
    tune_rs_pipe)
      cp tuning_db/nvidia-h100-80gb-hbm3.json "$OUT/rs_pipe_db.json"
      run tune_rs_pipe 150 $B/qgemm tune --model llama-3-8b --schemes w4a16,w8a16 \
        --m 128,256,512,1024,2048,4096 --kernels wo_wgmma_rs_pipe -o "$OUT/rs_pipe_db.json" \
        --run-budget 120 --verbose
      grep -E '^\[w0 [0-9]+/' "$OUT/tune_rs_pipe.log" | tee -a "$summary" ;;
    tune_w8a8_sk)
      cp tuning_db/nvidia-h100-80gb-hbm3.json "$OUT/w8a8_sk_db.json"
      run tune_w8a8_sk 120 $B/qgemm tune --model llama-3-8b --schemes w8a8-fp8,w8a8-int8 \
        --m 16,32,64,128,256,512 --kernels w8a8_fp8_wgmma_ws_sk,w8a8_int8_wgmma_ws_sk \
        -o "$OUT/w8a8_sk_db.json" --run-budget 90 --verbose
      grep -E '^\[w0 [0-9]+/' "$OUT/tune_w8a8_sk.log" | tee -a "$summary" ;;
    tune_w4a8)
      run tune_w4a8 170 $B/qgemm tune --model llama-3-8b --schemes w4a8-fp8 \
        --m 64,128,256,512,1024 -o "$OUT/w4a8.json" --run-budget 140 --verbose ;;
    peers_w4a8)
      site=$(bash scripts/install_peer_wheels.sh /tmp/site 2> "$OUT/wheels.log")
      PYTHONPATH=python:$site QGEMM_LIBRARY=$B/libqgemm.so run peers_w4a8 120 \
        python3 bench/torch_compare.py --peers --tuning-db "$OUT/w4a8.json" --schemes w4a8-fp8 \
        --shapes l8_gate_up,l8_down,l8_o --m 128,256,1024 --out "$OUT/peers_w4a8.json" ;;
    peers_w8a8)
      site=$(bash scripts/install_peer_wheels.sh /tmp/site 2> "$OUT/wheels.log")
      db=$OUT/w8a8_sk_db.json
      [ -f "$db" ] || db=tuning_db/nvidia-h100-80gb-hbm3.json
      PYTHONPATH=python:$site QGEMM_LIBRARY=$B/libqgemm.so run peers_w8a8 120 \
        python3 bench/torch_compare.py --peers --tuning-db "$db" --schemes w8a8-fp8 \
        --shapes l8_qkv,l8_down --m 64,128,256,512 --out "$OUT/peers_w8a8.json" ;;
    cutlass)
      QGEMM_EXPERIMENTAL_CUTLASS=1 QGEMM_CUTLASS_TRACE=1 QGEMM_LAUNCH=direct \
        CUDA_LAUNCH_BLOCKING=1 run cutlass 60 $B/tests/gpu_cutlass
      [ -n "$cdc_pid" ] && wait "$cdc_pid"
      cubin=$(grep -rl --include='*.cubin' qg_cutlass_w4a16_repack "$QGEMM_CACHE_DIR" | head -1)
      if [ -x $B/cutlass_device_check ]; then
        run cutlass_device_check 60 $B/cutlass_device_check "$cubin"
      else
        note "cutlass_device_check: not built ($(tail -1 "$OUT/cdc_build.log" 2>/dev/null))"
      fi ;;
    memcheck|racecheck|synccheck|initcheck)
      SANITIZE_TIMEOUT=$(($(left) - 30)) run "$step" 600 \
        bash tests/gpu/run.sh --sanitize --sanitize-tools "$step"
      [ -f "$OUT/sanitize.txt" ] && tee -a "$summary" < "$OUT/sanitize.txt" ;;
    ab)
      if [ -f .ab/base/CMakeLists.txt ]; then
        run ab 600 scripts/ab_bench.sh .ab/base 'gemm/' && cp "$OUT/ab.log" "$OUT/ab.md"
      else
        note "SKIP ab: no tree in .ab/base (git archive REV | tar -x -C .ab/base; carry .ab)"
      fi ;;
    ao_e2e)
      site=$(bash scripts/install_peer_wheels.sh /tmp/site 2> "$OUT/wheels.log")
      PYTHONPATH=python:$site QGEMM_LIBRARY=$B/libqgemm.so run ao_e2e 600 \
        python3 tests/gpu/torchao_checkpoint_e2e.py --json "$OUT/ao_e2e.json" ;;
    *) note "unknown step $step" ;;
  esac
done
note "backlog: $(($(date +%s) - t0)) s of a ${budget} s budget"
