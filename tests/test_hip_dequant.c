/*
 * The HIP W4A16 dequant kernel (kernels/hip/dequant_int4.hip), compiled here as host C with
 * QG_HIP_HOST_EMULATION and run thread by thread, against the library's own unpacker
 * (qg_dequantize_weight_host) on randomly quantized weights: every output element must be the
 * reference value rounded once to the output dtype, bit for bit, including padded shapes,
 * per-channel and grouped scales, zero points, bf16/f16 in and out. No AMD GPU is needed (CI
 * has none); hiprtc compiling the same source is covered by test_jit_cache / qgemm check.
 */
#define QG_HIP_HOST_EMULATION
#define QG_BS 64
#include "../kernels/hip/dequant_int4.hip"

#include "scheme_w4a16.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Run the kernel over the whole grid, as the family's launch would size it. */
static void run_kernel(const qg_problem *p, const qg_packed_weight *w, qg_u16 *out,
                       qg_dtype out_dtype) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const qg_i64 elems = p->n * p->k, blocks = (elems + QG_BS - 1) / QG_BS;
    const int dt = p->act_dtype == QG_DTYPE_BF16 ? QG_DT_BF16 : QG_DT_F16;
    const int out_dt = out_dtype == QG_DTYPE_BF16 ? QG_DT_BF16 : QG_DT_F16;
    for (qg_i64 bx = 0; bx < blocks; bx++) {
        blockIdx.x = (unsigned)bx;
        for (unsigned tx = 0; tx < QG_BS; tx++) {
            threadIdx.x = tx;
            qg_hip_dequant_int4((const qg_u32 *)w->weight, (const qg_u16 *)w->scale,
                                p->has_zero_point ? (const qg_u16 *)w->zero : NULL, out, (int)g.n,
                                (int)g.k, (int)g.ks, g.groups, g.gs, dt, out_dt);
        }
    }
}

static void check_case(qt_rng *r, int64_t n, int64_t k, int group, int zp, qg_dtype act,
                       qg_dtype out_dt) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = 1;
    p.n = n;
    p.k = k;
    p.group_size = group;
    p.has_zero_point = zp;
    p.act_dtype = act;
    p.out_dtype = act;
    char what[160];
    snprintf(what, sizeof what, "N=%lld K=%lld group=%d zp=%d act=%s out=%s", (long long)n,
             (long long)k, group, zp, qg_dtype_name(act), qg_dtype_name(out_dt));
    if (!QT_CHECK(qg_problem_validate(&p) == QG_SUCCESS, "%s: %s", what, qg_last_error(NULL)))
        return;

    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&p, &sz));
    qg_packed_weight pw = {malloc(sz.weight_bytes), malloc(sz.scale_bytes),
                           sz.zero_bytes ? malloc(sz.zero_bytes) : NULL, NULL};
    float *w = malloc(sizeof(float) * (size_t)(n * k)),
          *ref = malloc(sizeof(float) * (size_t)(n * k));
    qt_fill_normal(r, w, (size_t)(n * k), 0.05f);
    w[0] = 0.4f; /* an outlier, so scales differ between groups */
    QT_OK(qg_quantize_weight(&p, w, k, &pw));
    QT_OK(qg_dequantize_weight_host(&p, &pw, ref, k));

    const size_t guard = 64;
    qg_u16 *out = malloc(sizeof(qg_u16) * (size_t)(n * k + guard));
    memset(out, 0xff, sizeof(qg_u16) * (size_t)(n * k + guard));
    run_kernel(&p, &pw, out, out_dt);
    int64_t bad = 0, first = -1, nonzero = 0;
    for (int64_t i = 0; i < n * k; i++) {
        const uint16_t want = out_dt == QG_DTYPE_BF16 ? qg_f32_to_bf16(ref[i])
                                                      : qg_f32_to_f16(ref[i]);
        if (out[i] != want && first < 0) first = i;
        bad += out[i] != want;
        nonzero += ref[i] != 0;
    }
    int guard_ok = 1;
    for (size_t i = 0; i < guard; i++) guard_ok &= out[n * k + (int64_t)i] == 0xffff;
    QT_CHECK(bad == 0, "%s: %lld of %lld elements differ, first at (%lld, %lld): got 0x%04x, ref %g",
             what, (long long)bad, (long long)(n * k), (long long)(first < 0 ? 0 : first / k),
             (long long)(first < 0 ? 0 : first % k), first < 0 ? 0 : out[first],
             first < 0 ? 0 : ref[first]);
    QT_CHECK(nonzero > n * k / 2, "%s: the reference is not trivially zero", what);
    QT_CHECK(guard_ok, "%s: nothing written past N*K", what);
    free(out);
    free(w);
    free(ref);
    free(pw.weight);
    free(pw.scale);
    free(pw.zero);
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    const qg_dtype dts[2] = {QG_DTYPE_BF16, QG_DTYPE_F16};
    for (int a = 0; a < 2; a++)
        for (int o = 0; o < 2; o++)
            for (int zp = 0; zp < 2; zp++) {
                check_case(&r, 128, 256, 128, zp, dts[a], dts[o]);
                check_case(&r, 100, 192, 32, zp, dts[a], dts[o]); /* N padded to 128 */
            }
    check_case(&r, 1, 64, 64, 1, QG_DTYPE_BF16, QG_DTYPE_BF16);  /* M-independent, N = 1 */
    check_case(&r, 70, 200, 0, 0, QG_DTYPE_BF16, QG_DTYPE_BF16); /* per channel, K padded to 224 */
    check_case(&r, 65, 96, 0, 1, QG_DTYPE_F16, QG_DTYPE_F16);
    check_case(&r, 64, 4096, 128, 0, QG_DTYPE_BF16, QG_DTYPE_F16); /* many k16 steps per slab */
    return qt_finish("test_hip_dequant");
}
