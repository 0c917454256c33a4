#!/usr/bin/env bash
# Builds and runs tests/cutlass_host_check.cu (CUTLASS's host path vs qgemm's probe decoder, on
# the CPU) with nvcc against the CUTLASS headers: ~1-2 minutes of one core.
#   tests/cutlass_host_check.sh LIBQGEMM_STATIC BUILD_DIR
# Prints SKIP and exits 0 without nvcc or the CUTLASS headers.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,5p' "$0"; exit 0 ;; esac
lib=$1 build=$2
src=$(cd "$(dirname "$0")/.." && pwd)
nvcc=${QG_NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$nvcc" ] || { echo "SKIP: no nvcc"; exit 0; }
inc=${QGEMM_CUTLASS_INCLUDE:-${QG_CUTLASS_INCLUDE_DEFAULT:-}}
[ -n "$inc" ] && [ -e "$inc/cute/tensor.hpp" ] || { echo "SKIP: no CUTLASS headers ($inc)"; exit 0; }
out=$build/cutlass_host_check
"$nvcc" -std=c++17 -O1 -arch=sm_90a -DNDEBUG -I"$src/kernels/cutlass" $(find "$src/src" -type d -printf " -I%p") \
  -I"$src/include" -I"$inc" -c -x cu "$src/tests/cutlass_host_check.cu" -o "$out.o" 2>&1 |
  grep -E "error" -A3 || true
rm -f "$out"
[ -e "$out.o" ] && "$nvcc" "$out.o" "$lib" -o "$out" -Xcompiler -pthread -lcjson -lm -ldl
[ -x "$out" ] || { echo "cutlass_host_check: build failed"; exit 1; }
"$out"
