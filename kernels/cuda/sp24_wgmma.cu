#include "qg_prelude.cuh"

/*
 * 2:4 sparse GEMM with sparse wgmma (wgmma.mma_async.sp, sm_90a only).
 *
 * Same transposed product and packed format as sp24_mma.cu (docs/formats.md, "2:4 sparse"):
 * weights are the sparse wgmma operand A (64 weight rows per instruction, from shared memory by
 * descriptor), activations the dense operand B (QG_TM = 128 tokens per instruction); the
 * metadata word a lane passes is exactly the packed word for its warp's 16 rows (warp w of a
 * warpgroup supplies rows 16w..16w+15, the same register layout as mma.sp).
 *
 * Shared memory per stage is the sp24_mma layout, which is the canonical K-major swizzled layout
 * of wgmma: weight rows of 64 B (SW64 atoms of 8 rows x 64 B, chunk ^= (row/2)%4) and token rows
 * of 128 B (SW128 atoms of 8 x 128 B, chunk ^= row%8). A stage is two k-steps (16-bit: k32,
 * 8-bit: k64; with K % 128 == 64 the last 8-bit stage's second step sees zero-filled values and
 * the valid filler metadata, so it adds 0). Loads are cp.async issued by all threads; wgmma is asynchronous, so a stage is
 * refilled only after the wgmma group two iterations back has retired (one barrier per stage).
 *
 * Compile-time parameters: QG_DT (1 f16, 2 bf16, 3 e4m3, 4 s8), QG_TN (128 or 256 weight rows:
 * two warpgroups of 64 or 128 rows), QG_TM (128 tokens), QG_ST (stages, >= 3).
 */

#ifndef QG_DT
#define QG_DT 2
#endif
#ifndef QG_TN
#define QG_TN 128
#endif
#ifndef QG_TM
#define QG_TM 128
#endif
#ifndef QG_ST
#define QG_ST 5
#endif

#if QG_TM != 128 || (QG_TN != 128 && QG_TN != 256) || QG_ST < 3
#error "sp24_wgmma: unsupported tile"
#endif

#define SP_THREADS 256 /* two warpgroups */
#include "sp24_common.cuh"
#define SW_WGM (QG_TN / 128) /* m64 blocks per warpgroup */
#define SW_NACC (QG_TM / 2)  /* accumulators per thread per m64 block */

#if QG_DT == 4
typedef int sw_acc_t;
#else
typedef float sw_acc_t;
#endif

/* Shared memory matrix descriptor: K-major, swizzled (LBO unused = 1), SBO = 8-row stride. */
QG_DEVICE uint64_t sw_desc(uint32_t saddr, uint32_t sbo_bytes, uint32_t swizzle) {
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(sbo_bytes >> 4) << 32) | ((uint64_t)swizzle << 62);
}
#define SW_SWIZZLE_128B 1u
#define SW_SWIZZLE_64B 2u

QG_DEVICE void sw_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
QG_DEVICE void sw_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N> QG_DEVICE void sw_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }

/* d[64] = A(64 x K, 2:4, smem) * B(K x 128, smem) + (accumulate ? d : 0); e = this lane's
 * metadata word, SEL the sparsity selector (16-bit: thread pair; 8-bit: 0). */
#if SP_16BIT
#if QG_DT == 2
#define SW_AB "bf16"
#else
#define SW_AB "f16"
#endif
template <int SEL>
QG_DEVICE void sw_mma(sw_acc_t (&d)[SW_NACC], uint64_t da, uint64_t db, uint32_t e, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %68, 0;\n"
        "wgmma.mma_async.sp.sync.aligned.m64n128k32.f32." SW_AB "." SW_AB " {"
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
        "}, %64, %65, %66, %67, p, 1, 1, 0, 0;\n}"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(e), "n"(SEL), "r"(accumulate));
}
#elif QG_DT == 3
template <int SEL>
QG_DEVICE void sw_mma(sw_acc_t (&d)[SW_NACC], uint64_t da, uint64_t db, uint32_t e, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %68, 0;\n"
        "wgmma.mma_async.sp.sync.aligned.m64n128k64.f32.e4m3.e4m3 {"
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
        "}, %64, %65, %66, %67, p, 1, 1;\n}"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(e), "n"(SEL), "r"(accumulate));
}
#else
template <int SEL>
QG_DEVICE void sw_mma(sw_acc_t (&d)[SW_NACC], uint64_t da, uint64_t db, uint32_t e, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %68, 0;\n"
        "wgmma.mma_async.sp.sync.aligned.m64n128k64.s32.s8.s8 {"
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
        "}, %64, %65, %66, %67, p;\n}"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
        : "l"(da), "l"(db), "r"(e), "n"(SEL), "r"(accumulate));
}
#endif

/* Keep accumulator reads/writes from moving across wgmma fences and waits (the compiler does not
 * know wgmma writes them asynchronously). */
QG_DEVICE void sw_pin(sw_acc_t (&d)[SW_NACC]) {
#pragma unroll
    for (int i = 0; i < SW_NACC; i++) {
#if QG_DT == 4
        asm volatile("" : "+r"(d[i])::"memory");
#else
        asm volatile("" : "+f"(d[i])::"memory");
#endif
    }
}

extern "C" __global__ void __launch_bounds__(SP_THREADS, 1)
qg_sp24_wgmma(const uint8_t *__restrict__ w, const uint8_t *__restrict__ meta,
              const float *__restrict__ w_scale, const uint8_t *__restrict__ a,
              const float *__restrict__ a_scale, const uint16_t *__restrict__ bias,
              uint16_t *__restrict__ c, int M, int N, int K, long long lda, long long ldc,
              int a_scale_stride, int out_bf16) {
    extern __shared__ __align__(1024) uint8_t sw_smem_raw[];
    /* Swizzle patterns are anchored on absolute shared addresses: align the base to 1024. */
    const uint32_t raw0 = qg_smem_addr(sw_smem_raw);
    const uint32_t smem0 = (raw0 + 1023u) & ~1023u;
    uint8_t *smem = sw_smem_raw + (smem0 - raw0);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wg = warp >> 2, wl = warp & 3;
    const int n0 = blockIdx.x * QG_TN, m0 = blockIdx.y * QG_TM;
    const int nst = (K + SP_KSTAGE - 1) / SP_KSTAGE;
    sp_loader ld;
    sp_loader_init(ld, tid, w, meta, a, n0, m0, M, N, K, lda, 0);

    /* Accumulators start undefined: the first wgmma runs with scale-d = 0. Writing zeros here
     * instead puts non-wgmma definitions inside the wgmma pipeline and ptxas serializes it. */
    sw_acc_t acc[SW_WGM][SW_NACC];

    /* Prefetch distance QG_ST - 2: slot (it - 2) is refilled at iteration it, once every
     * warpgroup has retired its wgmma group it - 2 (wait_group 1 before the barrier). */
#pragma unroll
    for (int s = 0; s < QG_ST - 2; s++) {
        if (s < nst) sp_load_stage(ld, smem0 + s * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
    }
    int slot = 0, wslot = QG_ST - 2; /* stage read this iteration / refilled this iteration */
    for (int it = 0; it < nst; it++) {
        qg_cp_async_wait<QG_ST - 3>();
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); /* cp.async -> wgmma reads */
        __syncthreads();
        if (it + QG_ST - 2 < nst) sp_load_stage(ld, smem0 + wslot * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
        wslot = wslot == QG_ST - 1 ? 0 : wslot + 1;
        const uint32_t sa = smem0 + slot * SP_STAGE_BYTES, sb = sa + SP_A_BYTES;
        const uint8_t *se = smem + slot * SP_STAGE_BYTES + SP_A_BYTES + SP_B_BYTES;
        uint32_t e[SW_WGM][SP_KB_STAGE];
#pragma unroll
        for (int i = 0; i < SW_WGM; i++)
#pragma unroll
            for (int kb = 0; kb < SP_KB_STAGE; kb++)
                e[i][kb] = *(const uint32_t *)(se + ((wg * SW_WGM + i) * SP_KB_STAGE + kb) * 512 + lane * 16 + wl * 4);
        sw_fence();
#pragma unroll
        for (int ks = 0; ks < 2; ks++) {
            const uint64_t db = sw_desc(sb + ks * 64, 1024, SW_SWIZZLE_128B);
#pragma unroll
            for (int i = 0; i < SW_WGM; i++) {
                const uint64_t da = sw_desc(sa + (wg * SW_WGM + i) * 64 * 64 + ks * 32, 512, SW_SWIZZLE_64B);
#if SP_16BIT
                if (ks == 0) sw_mma<0>(acc[i], da, db, e[i][0], it > 0);
                else sw_mma<1>(acc[i], da, db, e[i][0], 1);
#else
                sw_mma<0>(acc[i], da, db, e[i][ks], it > 0 || ks > 0);
#endif
            }
        }
        sw_commit();
        sw_wait<1>();
        slot = slot == QG_ST - 1 ? 0 : slot + 1;
    }
    sw_wait<0>();
#pragma unroll
    for (int i = 0; i < SW_WGM; i++) sw_pin(acc[i]);
    qg_cp_async_wait<0>();

    /* Epilogue: C[m][n] = acc * w_scale[n] * a_scale[m] + bias[n], staged as [TM][TN+8] halves.
     * The tile's a_scale values go through shared memory (after the staging area) so that the
     * unrolled loop below does not hold them all in registers. */
    __syncthreads();
    uint16_t *cs = (uint16_t *)smem;
    float *as_s = (float *)(smem + QG_TM * SP_CPITCH * 2);
    if (!SP_16BIT && tid < QG_TM) as_s[tid] = m0 + tid < M ? a_scale[(long long)(m0 + tid) * a_scale_stride] : 0.0f;
    __syncthreads();
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < SW_WGM; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int nl = (wg * SW_WGM + i) * 64 + wl * 16 + g + 8 * h, n = n0 + nl;
            const float ws = (!SP_16BIT && n < N) ? w_scale[n] : 1.0f;
            const float bv = (bias && n < N) ? qg_to_f32(bias[n], out_bf16 ? QG_DT_BF16 : QG_DT_F16) : 0.0f;
#pragma unroll
            for (int j = 0; j < SW_NACC / 4; j++)
#pragma unroll
                for (int u = 0; u < 2; u++) {
                    const int ml = 8 * j + 2 * t + u;
                    const float as = SP_16BIT ? 1.0f : as_s[ml];
                    cs[ml * SP_CPITCH + nl] = sp_to_out((float)acc[i][4 * j + 2 * h + u] * ws * as + bv, out_bf16);
                }
        }
    __syncthreads();
    const bool vec_ok = (ldc % 8) == 0 && ((unsigned long long)c & 15) == 0;
    for (int idx = tid; idx < QG_TM * (QG_TN / 8); idx += SP_THREADS) {
        const int r = idx / (QG_TN / 8), c8 = idx % (QG_TN / 8);
        const int m = m0 + r, n = n0 + c8 * 8;
        if (m >= M || n >= N) continue;
        const uint16_t *src = cs + r * SP_CPITCH + c8 * 8;
        uint16_t *dst = c + (long long)m * ldc + n;
        if (vec_ok && n + 8 <= N) *(qg_u32x4 *)dst = *(const qg_u32x4 *)src;
        else
            for (int q = 0; q < 8 && n + q < N; q++) dst[q] = src[q];
    }
}
