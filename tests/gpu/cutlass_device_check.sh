#!/usr/bin/env bash
# Builds tests/gpu/cutlass_device_check.cu with nvcc (CUTLASS headers from QGEMM_CUTLASS_INCLUDE
# or .cutlass/include) and runs it on the GPU: E1 CUTLASS's own path, E2 qgemm's NVRTC kernel
# (the cubin in qgemm's JIT cache that holds qg_cutlass_w4a16, after gpu_cutlass has compiled it)
# with CUTLASS's host-built Params.
#   tests/gpu/cutlass_device_check.sh BUILD_DIR [JIT_CACHE_DIR] [M N K GROUP]
set -euo pipefail
case "${1:-}" in -h|--help|"") sed -n '2,6p' "$0"; exit 0 ;; esac
build=$1 cache=${2:-${QGEMM_CACHE_DIR:-}}
shift; [ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
inc=${QGEMM_CUTLASS_INCLUDE:-$src/.cutlass/include}
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
out=$build/cutlass_device_check
"$nvcc" -std=c++17 -O2 -arch=sm_90a -DNDEBUG --expt-relaxed-constexpr -I"$src/kernels/cutlass" \
  -I"$inc" "$src/tests/gpu/cutlass_device_check.cu" -o "$out" -lcuda
cubin=""
[ -n "$cache" ] && [ -d "$cache" ] && cubin=$(grep -rl --include='*.cubin' qg_cutlass_w4a16_repack "$cache" | head -1 || true)
echo "cubin: ${cubin:-none}"
"$out" "$cubin" "$@"
