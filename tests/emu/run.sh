#!/usr/bin/env bash
# CPU emulation of the kernels, for machines without a GPU (ctest `emulator`, label emu, in the
# plain builds; a few minutes): the weight-only families, then the 8-bit-activation and 2:4 ones. The real kernel bodies (kernels/cuda/w4a16_gemm.cuh
# and the family .cu files, dequant_wo.cu) are compiled as host C++ against emulated headers: emu_prelude.cuh
# and emu_int4_dequant.cuh re-implement the PTX helpers (lop3, prmt, half2 arithmetic with
# exact rounding, mma.m16n8k16 per the PTX fragment layout as a warp collective) and
# emu_ptx_cp_async.cuh the PTX layer's cp.async (groups that land only at cp.async.wait_group).
# emu_rt.cpp runs one pthread per CUDA thread, one CTA at a time, with barriers for
# __syncthreads and shared memory filled with 0xff (NaN) garbage.
# harness.cpp launches every variant through its family's real launch() (split-K, workspace,
# tails, padded lda/ldc) and compares with qg_reference_gemm and qg_dequantize_weight_host.
# The sm_90a families w4a16_wgmma and wo_wgmma_rs run on emu_wgmma.cpp (its PTX layer kernels/cuda/ptx_*.cuh
# swapped for emu_ptx_*.cuh, its own wrappers for emu_w4a16_wgmma_ops.cuh): mbarriers, named
# barriers and wgmma.mma_async decoding its shared-memory descriptors per the PTX ISA's canonical layouts
# (swizzles on the shared address), the accumulator fragment layout of the ISA, operations that
# execute only at wait_group (reading shared memory then; accumulators read as NaN while in
# flight), warpgroup-uniform operands, and a deadlock report instead of a hang.
# The engine (16-bit k16 and 8-bit k32 operands, f32 or s32 accumulators) first checks itself:
# emu_wgmma_selftest.cpp, every operand type in the SS and RS forms against a plain product.
# The mma.sync families of the 8-bit-activation schemes (W8A8 / W4A8 int8 and fp8,
# w8a8_mma.cuh) and the 2:4 sparse sp24_mma.cu run on emu_mma.cpp: mma.sync m16n8k32 (s8, e4m3),
# mma.sp::ordered_metadata (m16n8k32 16-bit with its thread-pair selector, m16n8k64 8-bit),
# ldmatrix and prmt as warp collectives per the PTX fragment layouts (harness_dyn.cpp).
# Their wgmma families run on the engine too: W8A8 int8 / fp8 wgmma (cp.async, 8-bit SS wgmma),
# the warp-specialized w8a8_*_wgmma_ws (TMA: emu_tma.cpp loads 2-D boxes from the tensor maps the
# harness's backend encodes with the library's own rules and driver arguments, 128B swizzle on the
# shared address, zero fill out of bounds; the bytes complete_tx on the mbarrier model, which now
# has expect_tx / tx-counts: they land only when a waiter needs them, the box reads as 0xff until
# then, and a copy into shared memory that a wgmma in flight at the barrier's release may still
# read is reported), and sp24_wgmma (wgmma.mma_async.sp: the compressed A by descriptor, the
# metadata of each warp's 16 rows in the mma.sp layouts, the thread-pair selector; its sw_mma,
# inline PTX in the .cu, is cut out and replaced). The self-test checks the sparse form and TMA
# against their own placement code first.
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
cp "$here"/emu_wgmma_selftest.cpp "$work"/ # the engine checked on its own first
cp "$here"/emu_prelude.cuh "$work"/qg_prelude.cuh
cp "$here"/emu_int4_dequant.cuh "$work"/int4_dequant.cuh
# the one line that cannot be shimmed by macros: the dynamic shared memory declaration
sed 's/extern __shared__ __align__(128) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/w4a16_gemm.cuh > "$work"/w4a16_gemm.cuh
grep -q "qg_smem = emu_smem" "$work"/w4a16_gemm.cuh
# the wgmma kernel: its PTX wrappers are replaced by the CPU engine of emu_wgmma.cpp
cp "$here"/emu_w4a16_wgmma_ops.cuh "$work"/w4a16_wgmma_ops.cuh
# ... and so is the PTX layer (kernels/cuda/ptx_*.cuh) it uses
for f in wgmma mbarrier fence cp_async; do cp "$here"/emu_ptx_$f.cuh "$work"/ptx_$f.cuh; done
# the register budgets (setmaxnreg: no-ops) and the cached loads and stores of the PTX layer
for f in setmaxnreg ld_st; do cp "$here"/emu_ptx_$f.cuh "$work"/ptx_$f.cuh; done
# the mma.sync families (W8A8 / W4A8 int8 and fp8: w8a8_mma.cuh): 8-bit mma.sync, ldmatrix,
# prmt and lop3 on the warp models of emu_mma.cpp
for f in mma ldmatrix prmt lop3; do cp "$here"/emu_ptx_$f.cuh "$work"/ptx_$f.cuh; done
cp "$here"/emu_mma.h "$here"/emu_mma.cpp "$here"/harness_dyn.cpp "$work"/
sed 's/extern __shared__ __align__(1024) uint8_t smem\[\];/uint8_t *smem = emu_smem;/' \
    "$K"/w8a8_mma.cuh > "$work"/w8a8_mma.cuh
grep -q "smem = emu_smem" "$work"/w8a8_mma.cuh
for f in w8a8_int8_mma w8a8_fp8_mma w4a8_int8_mma w4a8_fp8_mma; do cp "$K"/$f.cu "$work"/; done
cp "$K"/w8a8_dyn.cuh "$work"/
# the 2:4 sparse mma.sync family (sp24_mma.cu): mma.sp on emu_mma.cpp as well
sed 's/extern __shared__ __align__(128) uint8_t sp_smem\[\];/uint8_t *sp_smem = emu_smem;/' \
    "$K"/sp24_mma.cu > "$work"/sp24_mma.cu
grep -q "sp_smem = emu_smem" "$work"/sp24_mma.cu
cp "$K"/sp24_common.cuh "$work"/
# the W8A8 wgmma families: the cp.async one (w8a8_wgmma.cuh) and the warp-specialized TMA one
# (w8a8_wgmma_ws.cuh: TMA loads on emu_tma.cpp, completing on the mbarriers of emu_wgmma.cpp),
# their 8-bit SS wgmma wrappers (w8a8_wgmma_ops.cuh) on the engine
cp "$here"/emu_tma.h "$here"/emu_tma.cpp "$work"/
cp "$here"/emu_ptx_tma.cuh "$work"/ptx_tma.cuh
cp "$here"/emu_w8a8_wgmma_ops.cuh "$work"/w8a8_wgmma_ops.cuh
sed 's/extern __shared__ uint8_t smem_raw\[\];/uint8_t *smem_raw = emu_smem;/' \
    "$K"/w8a8_wgmma.cuh > "$work"/w8a8_wgmma.cuh
grep -q "smem_raw = emu_smem" "$work"/w8a8_wgmma.cuh
sed 's/extern __shared__ __align__(1024) uint8_t ws_smem\[\];/uint8_t *ws_smem = emu_smem;/' \
    "$K"/w8a8_wgmma_ws.cuh > "$work"/w8a8_wgmma_ws.cuh
grep -q "ws_smem = emu_smem" "$work"/w8a8_wgmma_ws.cuh
for f in w8a8_int8_wgmma w8a8_fp8_wgmma w8a8_int8_wgmma_ws w8a8_fp8_wgmma_ws w8a8_int8_wgmma_ws_sk \
         w8a8_fp8_wgmma_ws_sk; do cp "$K"/$f.cu "$work"/; done
cp "$here"/emu_ptx_bar.cuh "$work"/ptx_bar.cuh # named barriers (the _sk reduction)
cp "$K"/w8a8_ws_layout.cuh "$K"/wgmma_regs.cuh "$work"/
# the 2:4 sparse wgmma family (sp24_wgmma.cu): its sw_mma, inline PTX in the .cu, is cut out and
# replaced by emu_sp24_wgmma_ops.cuh (wgmma.mma_async.sp on the engine)
cp "$here"/emu_sp24_wgmma_ops.cuh "$work"/
test "$(grep -c '^template <int SEL>$' "$K"/sp24_wgmma.cu)" = 1
sed -e 's/extern __shared__ __align__(1024) uint8_t sw_smem_raw\[\];/uint8_t *sw_smem_raw = emu_smem;/' \
    -e '/^template <int SEL>$/,/^}$/c #include "emu_sp24_wgmma_ops.cuh"' \
    "$K"/sp24_wgmma.cu > "$work"/sp24_wgmma.cu
grep -q "sw_smem_raw = emu_smem" "$work"/sp24_wgmma.cu
grep -q '^#include "emu_sp24_wgmma_ops.cuh"$' "$work"/sp24_wgmma.cu
sed 's/extern __shared__ __align__(1024) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/w4a16_wgmma.cu > "$work"/w4a16_wgmma.cu
grep -q "qg_smem = emu_smem" "$work"/w4a16_wgmma.cu
# the RS wgmma kernel (wo_wgmma_rs.cu): its RS wgmma and 4/8-byte cp.async wrappers emulated
cp "$here"/emu_wo_wgmma_rs_ops.cuh "$work"/wo_wgmma_rs_ops.cuh
sed 's/extern __shared__ __align__(1024) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/wo_wgmma_rs.cu > "$work"/wo_wgmma_rs.cu
grep -q "qg_smem = emu_smem" "$work"/wo_wgmma_rs.cu
# the W4A8_FP8 RS wgmma kernel (w4a8_fp8_wgmma_rs.cu): its 8-bit RS wgmma wrapper emulated, the
# int4 -> e4m3 conversion by its definition
cp "$here"/emu_w4a8_wgmma_rs_ops.cuh "$work"/w4a8_wgmma_rs_ops.cuh
cp "$here"/emu_int4_e4m3.cuh "$work"/int4_e4m3.cuh
cp "$K"/w4a8_wgmma_rs_abi.cuh "$work"/
sed 's/extern __shared__ __align__(1024) uint8_t qg_smem\[\];/uint8_t *qg_smem = emu_smem;/' \
    "$K"/w4a8_fp8_wgmma_rs.cu > "$work"/w4a8_fp8_wgmma_rs.cu
grep -q "qg_smem = emu_smem" "$work"/w4a8_fp8_wgmma_rs.cu
for f in w4a16_decode w4a16_prefill w8a16_decode w8a16_prefill dequant_wo; do cp "$K"/$f.cu "$work"/; done
# the weight-only decode GEMV (W4A16, W8A16): its loads and shuffles from emu_wo_gemv_ops.cuh
cp "$here"/emu_wo_gemv_ops.cuh "$work"/wo_gemv_ops.cuh
cp "$K"/wo_gemv.cuh "$K"/w4a16_gemv.cu "$K"/w8a16_gemv.cu "$work"/
cp "$K"/tile_raster.cuh "$work"/ # the wgmma kernel's CTA order
cp "$K"/w4a16_wgmma_abi.cuh "$K"/w4a16_wgmma_epilogue.cuh "$K"/w4a16_wgmma_layout.cuh "$work"/
cp "$K"/wo_splitk.cuh "$work"/ # split-K of w4a16_gemm.cuh and wo_gemv.cuh (plain C on the prelude)
cp "$K"/qg_abi.cuh "$work"/ # the parameter structs and tile constants the host shares
cd "$work"
: > registry.inc
: > decls.inc
gen() { # source id kernel params-struct -D... (emu_call of emu_rt.h passes the arguments as launched)
  local src=$1 id=$2 kernel=$3; shift 4
  local name=emu_$(echo "$id" | tr '.' '_')
  { for d in "$@"; do echo "#define $d"; done
    echo "#define $kernel ${name}_k"
    echo "#include \"$src.cu\""
    echo "extern \"C\" void ${name}(const void *p) { emu_call(${name}_k, p); }"; } > v_${name}.cpp
  echo "{\"$id\", ${name}}," >> registry.inc
  echo "extern \"C\" void ${name}(const void *);" >> decls.inc
}
# The kernel entry and parameter struct of each family emulated here (kernels/cuda/qg_abi.cuh,
# w4a16_wgmma_abi.cuh); the variants are the catalog's own (qgemm list), so none is missed.
emulated() {
  case $1 in
    w4a16_decode|w4a16_prefill|w8a16_decode|w8a16_prefill) echo qg_wo_gemm qg_wo_params ;;
    w4a16_gemv|w8a16_gemv) echo qg_wogv_gemm qg_wogv_params ;;
    w4a16_wgmma) echo qg_w4wg_gemm qg_w4wg_params ;;
    wo_wgmma_rs) echo qg_w4rs_gemm qg_w4wg_params ;;
    wo_wgmma_rs_pipe) echo qg_w4rs_gemm qg_w4wg_params wo_wgmma_rs ;; # QG_PIPE=1 builds
    w4a8_fp8_wgmma_rs) echo qg_w4a8rs_gemm qg_w4a8rs_params ;;
    dequant_wo) echo qg_wo_dequant qg_dq_params ;;
    w8a8_int8_mma|w8a8_fp8_mma|w4a8_int8_mma|w4a8_fp8_mma) echo qg_dyn_mma qg_dyn_params ;;
    sp24_bf16_mma|sp24_int8_mma|sp24_fp8_mma) echo qg_sp24_mma - sp24_mma ;; # separate arguments
    sp24_bf16_wgmma|sp24_int8_wgmma|sp24_fp8_wgmma) echo qg_sp24_wgmma - sp24_wgmma ;;
    w8a8_int8_wgmma|w8a8_fp8_wgmma) echo qg_w8a8_wgmma qg_dyn_params ;;
    w8a8_int8_wgmma_ws|w8a8_fp8_wgmma_ws) echo qg_w8a8_wgmma_ws - ;; # tensor maps, then scalars
    w8a8_int8_wgmma_ws_sk|w8a8_fp8_wgmma_ws_sk) echo qg_w8a8_wgmma_ws - ;; # + split-K arguments
    w4a16_gemv_fzp|wo_wgmma_rs_fzp|dequant_wo_fzp) emulated "${1%_fzp}" ;; # QG_FZP=1 builds
    *) return 1 ;;
  esac
}
"$build"/qgemm list | awk '{print $1}' > variants.txt # the id (experimental ones carry a note)
while read -r id; do
  fam=${id%%.*}
  abi=$(emulated "$fam") || continue
  defs=() # id "family.act2.bm128" -> "QG_ACT 2" "QG_BM 128" (src/catalog/catalog.h)
  IFS=. read -ra params <<< "${id#"$fam".}"
  for p in "${params[@]}"; do
    name=${p%%[0-9]*}
    defs+=("QG_${name^^} ${p#"$name"}")
  done
  read -r kernel ptype src <<< "$abi" # src: the family's source when not named after it
  gen "${src:-${fam%_fzp}}" "$id" "$kernel" "$ptype" "${defs[@]}"
done < variants.txt
echo "compiling $(ls v_*.cpp | wc -l) variants (host C++)..."
ls v_*.cpp emu_rt.cpp emu_wgmma.cpp emu_wgmma_selftest.cpp emu_tma.cpp emu_mma.cpp harness.cpp | xargs -P 2 -I{} sh -c \
  'g++ -std=c++17 -O1 -w -Wno-psabi -D_Alignas=alignas -I. $(find "$0"/src -type d -printf " -I%p") -I"$0"/include -c {} -o {}.o' "$root"
g++ -o emu ./*.o "$build"/libqgemm.a -lcjson -ldl -lpthread -lm
./emu ${filter:+"$filter"}
