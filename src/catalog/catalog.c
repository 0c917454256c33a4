/* The catalog: every family's variants, enumerated once; embedded sources; JIT options. */
#include "catalog.h"
#include "backend.h"
#include "jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Families, one file each (family_<name>.c); add yours above the NULL. */
extern const qg_family qg_family_hip_dequant_int4;
extern const qg_family qg_family_w4a16_decode, qg_family_w4a16_prefill, qg_family_w8a16_decode,
    qg_family_w8a16_prefill, qg_family_dequant_wo;
extern const qg_family qg_family_w4a16_wgmma;
extern const qg_family qg_family_wo_wgmma_rs, qg_family_wo_wgmma_rs_pipe;
extern const qg_family qg_family_w4a8_fp8_wgmma_rs;
extern const qg_family qg_family_w4a16_gemv, qg_family_w8a16_gemv;

extern const qg_family qg_family_sp24_bf16_mma, qg_family_sp24_int8_mma, qg_family_sp24_fp8_mma;
extern const qg_family qg_family_sp24_bf16_wgmma, qg_family_sp24_int8_wgmma, qg_family_sp24_fp8_wgmma;
extern const qg_family qg_family_w8a8_fp8_gemv, qg_family_w8a8_int8_gemv, qg_family_w8a8_fp8_mma,
    qg_family_w8a8_int8_mma, qg_family_w4a8_fp8_gemv, qg_family_w4a8_int8_gemv,
    qg_family_w4a8_fp8_mma, qg_family_w4a8_int8_mma, qg_family_act_quant_fp8,
    qg_family_act_quant_int8, qg_family_w8a8_fp8_wgmma, qg_family_w8a8_int8_wgmma;
extern const qg_family qg_family_cublaslt_fp8, qg_family_cublaslt_int8,
    qg_family_cublaslt_int8_epilogue;
extern const qg_family qg_family_w8a8_fp8_wgmma_ws, qg_family_w8a8_int8_wgmma_ws;
extern const qg_family qg_family_w8a8_fp8_wgmma_ws_sk, qg_family_w8a8_int8_wgmma_ws_sk;
extern const qg_family qg_family_wo_dequant_lt;
extern const qg_family qg_family_w4a16_cutlass;
extern const qg_family qg_family_w4a16_gemv_fzp, qg_family_wo_wgmma_rs_fzp,
    qg_family_dequant_wo_fzp, qg_family_wo_dequant_lt_fzp;
static const qg_family *const families[] = {
    &qg_family_sp24_bf16_mma,
    &qg_family_sp24_int8_mma,
    &qg_family_sp24_fp8_mma,
    &qg_family_sp24_bf16_wgmma,
    &qg_family_sp24_int8_wgmma,
    &qg_family_sp24_fp8_wgmma,
    &qg_family_hip_dequant_int4,
    &qg_family_w8a8_fp8_gemv,
    &qg_family_w8a8_int8_gemv,
    &qg_family_w8a8_fp8_mma,
    &qg_family_w8a8_int8_mma,
    &qg_family_w4a8_fp8_gemv,
    &qg_family_w4a8_int8_gemv,
    &qg_family_w4a8_fp8_mma,
    &qg_family_w4a8_int8_mma,
    &qg_family_act_quant_fp8,
    &qg_family_act_quant_int8,
    &qg_family_w8a8_fp8_wgmma,
    &qg_family_w8a8_int8_wgmma,
    &qg_family_w4a16_decode,
    &qg_family_w4a16_prefill,
    &qg_family_w8a16_decode,
    &qg_family_w8a16_prefill,
    &qg_family_dequant_wo,
    &qg_family_cublaslt_fp8,
    &qg_family_cublaslt_int8,
    &qg_family_cublaslt_int8_epilogue,
    &qg_family_w8a8_fp8_wgmma_ws,
    &qg_family_w8a8_int8_wgmma_ws,
    &qg_family_w4a16_wgmma,
    &qg_family_wo_wgmma_rs,
    &qg_family_wo_dequant_lt,
    &qg_family_w4a16_gemv,
    &qg_family_w8a16_gemv,
    &qg_family_w4a16_cutlass,
    &qg_family_w4a16_gemv_fzp,
    &qg_family_dequant_wo_fzp,
    &qg_family_wo_wgmma_rs_fzp,
    &qg_family_wo_dequant_lt_fzp,
    &qg_family_w4a8_fp8_wgmma_rs,
    &qg_family_wo_wgmma_rs_pipe, /* wo_wgmma_rs.cu with QG_PIPE=1 */
    &qg_family_w8a8_fp8_wgmma_ws_sk,
    &qg_family_w8a8_int8_wgmma_ws_sk,
    NULL,
};
#define NUM_FAMILIES (QG_ARRAY_SIZE(families) - 1)

typedef struct {
    const char *name;
    const char *data;
    size_t len;
} qg_embedded_file;
extern const qg_embedded_file qg_embedded_files[];
extern const int qg_embedded_file_count;

static qg_variant *variants;
static int variant_count;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    int total = 0;
    for (int f = 0; f < NUM_FAMILIES; f++) total += families[f]->num_variants;
    variants = calloc((size_t)total, sizeof *variants);
    if (!variants) return; /* qg_catalog_count() then reports 0 */
    for (int f = 0; f < NUM_FAMILIES; f++) {
        const qg_family *fam = families[f];
        for (int i = 0; i < fam->num_variants; i++) {
            qg_variant *v = &variants[variant_count];
            v->family = fam;
            v->params = fam->variants[i];
            v->index = variant_count++;
            int n = snprintf(v->id, sizeof v->id, "%s", fam->name);
            for (int p = 0; p < fam->num_params && n < (int)sizeof v->id; p++)
                n += snprintf(v->id + n, sizeof v->id - (size_t)n, ".%s%d", fam->param_names[p],
                              v->params[p]);
        }
    }
}

int qg_catalog_count(void) {
    pthread_once(&once, build);
    return variant_count;
}

const qg_variant *qg_catalog_get(int i) {
    return (i >= 0 && i < qg_catalog_count()) ? &variants[i] : NULL;
}

const qg_variant *qg_catalog_find(const char *id) {
    if (!id) return NULL;
    for (int i = 0; i < qg_catalog_count(); i++)
        if (strcmp(variants[i].id, id) == 0) return &variants[i];
    return NULL;
}

int qg_catalog_size(void) { return qg_catalog_count(); }

const char *qg_catalog_variant_id(int i) {
    const qg_variant *v = qg_catalog_get(i);
    return v ? v->id : NULL;
}

const char *qg_embedded_source(const char *name, size_t *len) {
    for (int i = 0; i < qg_embedded_file_count; i++) {
        if (strcmp(qg_embedded_files[i].name, name) == 0) {
            if (len) *len = qg_embedded_files[i].len;
            return qg_embedded_files[i].data;
        }
    }
    return NULL;
}

int qg_embedded_count(void) { return qg_embedded_file_count; }
const char *qg_embedded_name(int i, const char **data, size_t *len) {
    if (i < 0 || i >= qg_embedded_file_count) return NULL;
    if (data) *data = qg_embedded_files[i].data;
    if (len) *len = qg_embedded_files[i].len;
    return qg_embedded_files[i].name;
}

int qg_variant_options(const qg_variant *v, char buf[][48], int max) {
    int n = 0;
    for (int p = 0; p < v->family->num_params && n < max; p++, n++) {
        char upper[32];
        const char *s = v->family->param_names[p];
        size_t i = 0;
        for (; s[i] && i < sizeof upper - 1; i++)
            upper[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
        upper[i] = 0;
        snprintf(buf[n], 48, "-DQG_%s=%d", upper, v->params[p]);
    }
    return n;
}

int qg_arch_cc(const char *arch) {
    if (!arch || strncmp(arch, "sm_", 3) != 0) return 0;
    return atoi(arch + 3);
}

int qg_family_targets_arch(const qg_family *f, const char *arch) {
    if (!arch || !f->source) return 0; /* library-backed families (cuBLASLt) compile nothing */
    if (strncmp(arch, "gfx", 3) == 0) return f->hip;
    if (f->hip) return 0;
    int cc = qg_arch_cc(arch);
    if (cc < f->min_cc) return 0;
    if (f->needs_sm90a) return strcmp(arch, "sm_90a") == 0;
    return 1;
}

qg_status qg_kernel_launch(qg_context *ctx, qg_kernel *k, unsigned gx, unsigned gy, unsigned gz,
                           unsigned block, unsigned smem, void *stream, void **params) {
    /* qg_jit_get raised the kernel's dynamic shared memory limit to the device maximum at
     * load time, so the launch path only launches. */
    const unsigned grid[3] = {gx, gy, gz}, blk[3] = {block, 1, 1};
    return ctx->ops->launch(ctx, k->fn, grid, blk, smem, stream, params);
}
