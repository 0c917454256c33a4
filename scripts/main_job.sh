#!/usr/bin/env bash
# Main job: tune a model's linear shapes on this GPU, then run the benchmark sweep beside
# cuBLASLt/torch, the peers a user would pick instead (torchao, mslk, gemlite) and the
# host-overhead bench, and write the report under bench/results/<gpu>/.
#   scripts/main_job.sh (--model NAME | --hf-config FILE) [--schemes LIST] [--m LIST]
#   Defaults: --model llama-3-8b, the seven GEMM schemes, M 1,16,32,64,128,1024,4096.
set -euo pipefail
cd "$(dirname "$0")/.."
model_args=()
schemes="w4a16,w8a16,w8a8-fp8,w8a8-int8,sp24-bf16,sp24-fp8,sp24-int8"
ms="1,16,32,64,128,1024,4096"
while [ $# -gt 0 ]; do
  case "$1" in
    --model|--hf-config) model_args=("$1" "$2"); shift ;;
    --schemes) schemes=$2; shift ;;
    --m) ms=$2; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "main_job.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#model_args[@]} -eq 2 ] || model_args=(--model llama-3-8b)

echo "[main_job] building (build-release)"
. scripts/gpu_build.sh
qg_release_build_for_gpu main_job.sh "no GPU on this machine: nothing to tune or benchmark"
out=bench/results/$gpu
mkdir -p "$out"
db=$out/tuning.json
echo "[main_job] tuning ${model_args[*]} for $schemes, M $ms into $db"
# Exit 3 means some candidates were wrong: reported above and never stored; the sweep goes on.
rc=0
build-release/qgemm tune "${model_args[@]}" --schemes "$schemes" --m "$ms" -o "$db" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ] || exit $rc
echo "[main_job] torch comparison -> $out/bench.json"
QGEMM_LIBRARY=$PWD/build-release/libqgemm.so python3 bench/torch_compare.py --m "$ms" --schemes "$schemes" \
  --tuning-db "$db" --out "$out/bench.json" | tee "$out/bench.txt"
python3 bench/report.py "$out/bench.json" "$out" > "$out/report.md"
# The peers a user would pick instead (torchao + mslk, gemlite: wheels in .whl/ where the machine
# has no registry; scripts/fetch_device_deps.sh): peers.json, peers.md, the targets in peers.txt.
echo "[main_job] peers -> $out/peers.json"
site=$(scripts/install_peer_wheels.sh /tmp/site) || site=/tmp/site
if QGEMM_LIBRARY=$PWD/build-release/libqgemm.so PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} \
    python3 bench/torch_compare.py --peers --schemes "$schemes" --tuning-db "$db" \
    --out "$out/peers.json" | tee "$out/peers.txt"; then
  python3 bench/peer_report.py "$out/peers.json" >> "$out/report.md"
else
  echo "[main_job] the peer comparison failed (above); going on"
fi
if [ -x build-release/bench/bench_gemm ]; then
  echo "[main_job] Google Benchmark sweep beside cuBLASLt -> $out/gbench.json"
  QGEMM_TUNING_DB=$db build-release/bench/bench_gemm --benchmark_out="$out/gbench.json" \
    --benchmark_out_format=json | tee "$out/gbench.txt"
  python3 bench/report.py "$out/gbench.json" "$out" > "$out/report_gbench.md"
fi
if [ -x build-release/bench/host_overhead ]; then
  echo "[main_job] host time per prepared qg_gemm -> $out/host_overhead.md"
  QGEMM_TUNING_DB=$db build-release/bench/host_overhead --pin | tee "$out/host_overhead.md"
fi
echo "report: $out/report.md"
