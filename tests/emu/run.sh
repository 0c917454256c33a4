#!/usr/bin/env bash
# CPU emulation of the weight-only kernels, for machines without a GPU (not part of ctest: it
# takes a minute or two). The real kernel bodies (kernels/cuda/w4a16_gemm.cuh and the family
# .cu files, dequant_wo.cu) are compiled as host C++ against emulated headers: emu_prelude.cuh
# and emu_int4_dequant.cuh re-implement the PTX helpers (lop3, prmt, half2 arithmetic with
# exact rounding, mma.m16n8k16 per the PTX fragment layout as a warp collective, cp.async groups
# that land only at cp.async.wait_group). emu_rt.cpp runs one pthread per CUDA thread, one CTA
# at a time, with barriers for __syncthreads and shared memory filled with 0xff (NaN) garbage.
# harness.cpp launches every variant through its family's real launch() (split-K, workspace,
# tails, padded lda/ldc) and compares with qg_reference_gemm and qg_dequantize_weight_host.
# The sm_90a families w4a16_wgmma and wo_wgmma_rs run on emu_wgmma.cpp (its PTX layer kernels/cuda/ptx_*.cuh
# swapped for emu_ptx_*.cuh, its own wrappers for emu_w4a16_wgmma_ops.cuh): mbarriers, named
# barriers and wgmma.mma_async decoding its shared-memory descriptors per the PTX ISA's canonical layouts
# (swizzles on the shared address), the accumulator fragment layout of the ISA, operations that
# execute only at wait_group (reading shared memory then; accumulators read as NaN while in
# flight), warpgroup-uniform operands, and a deadlock report instead of a hang.
# What it cannot find: PTX semantics we misunderstood (they are emulated as we understood them),
# missing proxy fences (fence.proxy.async is a no-op here), races between warps within a stage,
# register-level hazards, performance.
#   usage: tests/emu/run.sh BUILD_DIR [VARIANT_SUBSTRING]   (BUILD_DIR has libqgemm.a)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR [FILTER]}" && pwd)
filter=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
K=$root/kernels/cuda
cp "$here"/emu_rt.h "$here"/emu_rt.cpp "$here"/harness.cpp "$here"/emu_wgmma.h "$here"/emu_wgmma.cpp "$work"/
cp "$here"/emu_prelude.cuh "$work"/qg_prelude.cuh
cp "$here"/emu_int4_dequant.cuh "$work"/int4_dequant.cuh
# the one line that cannot be shimmed by macros: the dynamic shared memory declaration
sed 's/extern __shared__ __align__(128) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/w4a16_gemm.cuh > "$work"/w4a16_gemm.cuh
grep -q "qg_smem = emu_smem" "$work"/w4a16_gemm.cuh
# the wgmma kernel: its PTX wrappers are replaced by the CPU engine of emu_wgmma.cpp
cp "$here"/emu_w4a16_wgmma_ops.cuh "$work"/w4a16_wgmma_ops.cuh
# ... and so is the PTX layer (kernels/cuda/ptx_*.cuh) it uses
for f in wgmma mbarrier fence; do cp "$here"/emu_ptx_$f.cuh "$work"/ptx_$f.cuh; done
sed 's/extern __shared__ __align__(1024) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/w4a16_wgmma.cu > "$work"/w4a16_wgmma.cu
grep -q "qg_smem = emu_smem" "$work"/w4a16_wgmma.cu
# the RS wgmma kernel (wo_wgmma_rs.cu): its RS wgmma and 4/8-byte cp.async wrappers emulated
cp "$here"/emu_wo_wgmma_rs_ops.cuh "$work"/wo_wgmma_rs_ops.cuh
sed 's/extern __shared__ __align__(1024) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/wo_wgmma_rs.cu > "$work"/wo_wgmma_rs.cu
grep -q "qg_smem = emu_smem" "$work"/wo_wgmma_rs.cu
for f in w4a16_decode w4a16_prefill w8a16_decode w8a16_prefill dequant_wo; do cp "$K"/$f.cu "$work"/; done
# the weight-only decode GEMV (W4A16, W8A16): its loads and shuffles from emu_wo_gemv_ops.cuh
cp "$here"/emu_wo_gemv_ops.cuh "$work"/wo_gemv_ops.cuh
cp "$K"/wo_gemv.cuh "$K"/w4a16_gemv.cu "$K"/w8a16_gemv.cu "$work"/
cp "$K"/tile_raster.cuh "$work"/ # the wgmma kernel's CTA order
cp "$K"/w4a16_wgmma_abi.cuh "$K"/w4a16_wgmma_epilogue.cuh "$K"/w4a16_wgmma_layout.cuh "$work"/
cp "$K"/wo_splitk.cuh "$work"/ # split-K of w4a16_gemm.cuh and wo_gemv.cuh (plain C on the prelude)
cd "$work"
: > registry.inc
: > decls.inc
gen() { # source id kernel params-struct -D...
  local src=$1 id=$2 kernel=$3 ptype=$4; shift 4
  local name=emu_$(echo "$id" | tr '.' '_')
  { for d in "$@"; do echo "#define $d"; done
    echo "#define $kernel ${name}_k"
    echo "#include \"$src.cu\""
    echo "extern \"C\" void ${name}(const void *p) { ${name}_k(*(const $ptype *)p); }"; } > v_${name}.cpp
  echo "{\"$id\", ${name}}," >> registry.inc
  echo "extern \"C\" void ${name}(const void *);" >> decls.inc
}
# every variant of the families' tables (src/catalog/families/: family_w4a16_*.c, family_w8a16_*.c,
# family_dequant_wo.c)
for act in 1 2; do
  for mt in 1 2 4; do gen w4a16_decode w4a16_decode.act$act.mt$mt qg_wo_gemm qg_wo_params "QG_ACT $act" "QG_MT $mt"; done
  for t in "128 128" "128 256" "64 128"; do set -- $t
    gen w4a16_prefill w4a16_prefill.act$act.bm$1.bn$2 qg_wo_gemm qg_wo_params "QG_ACT $act" "QG_BM $1" "QG_BN $2"; done
  for mt in 1 4; do gen w8a16_decode w8a16_decode.act$act.mt$mt qg_wo_gemm qg_wo_params "QG_ACT $act" "QG_MT $mt"; done
  for bn in 256 128; do gen w4a16_wgmma w4a16_wgmma.act$act.bn$bn qg_w4wg_gemm qg_w4wg_params "QG_ACT $act" "QG_BN $bn"; done
  for wb in 4 8; do for bm in 64 128; do  # family_w4a16_wgmma.c, the RS table
    gen wo_wgmma_rs wo_wgmma_rs.wbits$wb.act$act.bm$bm qg_w4rs_gemm qg_w4wg_params "QG_WBITS $wb" "QG_ACT $act" "QG_BM $bm"
  done; done
  for t in "128 128" "128 256"; do set -- $t
    gen w8a16_prefill w8a16_prefill.act$act.bm$1.bn$2 qg_wo_gemm qg_wo_params "QG_ACT $act" "QG_BM $1" "QG_BN $2"; done
done
for t in "1 8 4" "2 8 2" "1 4 4" "2 4 2"; do set -- $t  # family_wo_gemv.c: mt warps uk
  for act in 1 2; do for f in w4a16_gemv w8a16_gemv; do
    gen $f $f.act$act.mt$1.warps$2.uk$3 qg_wogv_gemm qg_wogv_params "QG_ACT $act" "QG_MT $1" "QG_WARPS $2" "QG_UK $3"
  done; done
done
for wb in 4 8; do gen dequant_wo dequant_wo.wbits$wb qg_wo_dequant qg_dq_params "QG_WBITS $wb"; done
echo "compiling $(ls v_*.cpp | wc -l) variants (host C++)..."
ls v_*.cpp emu_rt.cpp emu_wgmma.cpp harness.cpp | xargs -P 2 -I{} sh -c \
  'g++ -std=c++17 -O1 -w -D_Alignas=alignas -I. $(find "$0"/src -type d -printf " -I%p") -I"$0"/include -c {} -o {}.o' "$root"
g++ -o emu ./*.o "$build"/libqgemm.a -lcjson -ldl -lpthread -lm
./emu ${filter:+"$filter"}
