#!/usr/bin/env bash
# A/B timing of this tree against another source tree in ONE run on the GPU machine: builds both
# (build-gpu here, OTHER/build-gpu there), runs bench/bench_gemm with the same filter A, B, A, B
# and prints, per benchmark, both medians of each side and B's speedup (mean A / mean B). For a
# kernel change kept on a branch until it has run on hardware:
#   mkdir -p .ab/BRANCH && git archive BRANCH | tar -x -C .ab/BRANCH   (.ab/ is git-ignored;
#   name .ab and .deps in the device tool's carry), then on the GPU machine:
#   scripts/ab_bench.sh [--kernel ID] OTHER_TREE FILTER
# --kernel ID times that kernel variant (QGEMM_BENCH_KERNEL) instead of dispatch's choice.
# Output: a markdown table; raw JSON in $OUT (or /tmp/qgemm-ab) as a1/b1/a2/b2.json.
set -uo pipefail
cd "$(dirname "$0")/.."
kernel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "ab_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ $# -eq 2 ] || { echo "usage: scripts/ab_bench.sh [--kernel ID] OTHER_TREE FILTER" >&2; exit 2; }
other=$1
filter=$2
[ -f "$other/CMakeLists.txt" ] || { echo "ab_bench.sh: $other is not a qgemm source tree" >&2; exit 2; }
out=${OUT:-/tmp/qgemm-ab}
mkdir -p "$out"
deps=$PWD/.deps/root/usr
export LD_LIBRARY_PATH=$deps/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
for tree in . "$other"; do
  if ! { cmake -S "$tree" -B "$tree/build-gpu" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$deps" &&
         cmake --build "$tree/build-gpu" -j "$(nproc)" --target bench_gemm; } > "$out/ab_build.log" 2>&1; then
    tail -20 "$out/ab_build.log"; echo "ab_bench.sh: build of $tree failed" >&2; exit 1
  fi
done
[ -n "$kernel" ] && export QGEMM_BENCH_KERNEL=$kernel
export QGEMM_CACHE_DIR=/tmp/qgemm-ab-cache
for round in 1 2; do
  for side in a b; do
    tree=.; [ $side = b ] && tree=$other
    "$tree/build-gpu/bench/bench_gemm" --benchmark_filter="$filter" --benchmark_format=json \
      --benchmark_out="$out/$side$round.json" --benchmark_out_format=json > /dev/null 2>> "$out/ab_run.log" ||
      { tail -5 "$out/ab_run.log"; echo "ab_bench.sh: bench_gemm failed ($side, round $round)" >&2; exit 1; }
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def load(name):
    d = json.load(open(f"{out}/{name}.json"))
    return {b["name"].split("/iterations")[0]: b for b in d["benchmarks"] if "us" in b}
runs = {k: load(k) for k in ("a1", "b1", "a2", "b2")}
print("| benchmark | A us (2 runs) | B us (2 runs) | B speedup | A label | B label |")
print("|---|---|---|---|---|---|")
for name in runs["a1"]:
    if not all(name in r for r in runs.values()):
        continue
    a = [runs[k][name]["us"] for k in ("a1", "a2")]
    b = [runs[k][name]["us"] for k in ("b1", "b2")]
    am, bm = statistics.mean(a), statistics.mean(b)
    print(f"| {name} | {a[0]:.2f}, {a[1]:.2f} | {b[0]:.2f}, {b[1]:.2f} | {am / bm:.3f}x | "
          f"{runs['a1'][name].get('label', '')} | {runs['b1'][name].get('label', '')} |")
PY
