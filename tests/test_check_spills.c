/* qgemm check and register spills: NVRTC's log carries ptxas's per-kernel report, a variant
 * that spills fails the check unless its family allows it; one whose wgmmas ptxas serializes
 * fails it too. */
#include "testutil.h"

#include "backend.h"
#include "jit.h"

#include <stdlib.h>
#include <string.h>

/* 64 live floats per thread under a 1024-thread launch bound (64 registers): ptxas spills. */
static const char *spilling =
    "extern \"C\" __global__ void __launch_bounds__(1024) qg_spills(float *o, int n) {\n"
    "    float a[64];\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < 64; i++) a[i] = o[i * n + threadIdx.x];\n"
    "    float s = 0;\n"
    "#pragma unroll\n"
    "    for (int j = 0; j < 64; j++)\n"
    "#pragma unroll\n"
    "        for (int i = 0; i < 64; i++) s += a[i] * a[(i + j) & 63];\n"
    "    o[threadIdx.x] = s;\n"
    "}\n";
static const char *lean =
    "extern \"C\" __global__ void qg_lean(float *o) { o[threadIdx.x] += 1.0f; }\n";

/* sm_90a: a wgmma whose accumulator is read while it is in flight (ptxas C7513/C7517). */
static const char *serialized =
    "extern \"C\" __global__ void qg_ser(float *o, unsigned long long db, unsigned a0, int n) {\n"
    "    float d0 = 0, d1 = 0, d2 = 0, d3 = 0, s = 0;\n"
    "    for (int i = 0; i < n; i++) {\n"
    "        asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");\n"
    "        asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, 1, 0;\\n\"\n"
    "                     \"wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 \"\n"
    "                     \"{%0,%1,%2,%3}, {%4,%4,%4,%4}, %5, p, 1, 1, 1;\\n}\\n\"\n"
    "                     : \"+f\"(d0), \"+f\"(d1), \"+f\"(d2), \"+f\"(d3) : \"r\"(a0 + i), \"l\"(db));\n"
    "        asm volatile(\"wgmma.commit_group.sync.aligned;\" ::: \"memory\");\n"
    "        s += d0;\n"
    "        asm volatile(\"wgmma.wait_group.sync.aligned 1;\" ::: \"memory\");\n"
    "    }\n"
    "    asm volatile(\"wgmma.wait_group.sync.aligned 0;\" ::: \"memory\");\n"
    "    o[threadIdx.x] = s + d1 + d2 + d3;\n"
    "}\n";

static char *compile_log(const char *src) {
    void *img = NULL;
    size_t n = 0;
    char *log = NULL;
    QT_OK(qg_compiler_nvrtc.compile(src, "spill.cu", "sm_90a", NULL, 0, &img, &n, &log));
    free(img);
    return log;
}

static const int one[][QG_MAX_PARAMS] = {{1}};

int main(void) {
    /* the parser, on two kernels' reports */
    const char *two =
        "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
        "ptxas         .     1072 bytes stack frame, 1068 bytes spill stores, 2104 bytes spill loads\n";
    QT_CHECK(qg_ptxas_sum(two, "bytes spill stores") == 1076 &&
                 qg_ptxas_sum(two, "bytes spill loads") == 2116 &&
                 qg_ptxas_sum(two, "bytes stack frame") == 1088,
             "sums over kernels");
    QT_CHECK(qg_ptxas_sum(NULL, "bytes spill stores") == 0 &&
                 qg_ptxas_sum("bytes spill stores", "bytes spill stores") == 0,
             "no log, no number: 0");

    char why[256];
    if (qg_compiler_nvrtc.load(why, sizeof why) != QG_SUCCESS) {
        printf("SKIP (no NVRTC): %s\n", why);
        return qt_finish("test_check_spills");
    }
    char *log = compile_log(spilling);
    QT_CHECK(qg_ptxas_sum(log, "bytes spill stores") > 0, "ptxas reports the spill: %s",
             log ? log : "(null)");
    char *lean_log = compile_log(lean);
    QT_CHECK(lean_log && strstr(lean_log, "Used") &&
                 qg_ptxas_sum(lean_log, "bytes spill stores") == 0 &&
                 qg_ptxas_sum(lean_log, "bytes spill loads") == 0,
             "a lean kernel: a report, no spill");

    qg_family strict = {.name = "strict",
                        .source = "qg_prelude.cuh",
                        .entry = "qg_spills",
                        .num_params = 1,
                        .param_names = {"a"},
                        .num_variants = 1,
                        .variants = one,
                        .min_cc = 80};
    qg_family allowed = strict;
    allowed.name = "allowed";
    allowed.allow_spills = "sm_80,sm_90a";
    qg_family all = strict;
    all.allow_spills = "all";
    qg_family other = strict;
    other.allow_spills = "sm_90"; /* not sm_90a */
    qg_variant vs = {.family = &strict, .params = one[0], .index = -1, .id = "strict.a1"};
    qg_variant va = {.family = &allowed, .params = one[0], .index = -1, .id = "allowed.a1"};
    qg_variant vall = {.family = &all, .params = one[0], .index = -1, .id = "all.a1"};
    qg_variant vo = {.family = &other, .params = one[0], .index = -1, .id = "other.a1"};
    char *copy = log ? strdup(log) : NULL;
    QT_STATUS(qg_check_spills(&vo, "sm_90a", &copy), QG_ERR_COMPILE); /* copy now has the reason */
    QT_STATUS(qg_check_spills(&vs, "sm_90a", &log), QG_ERR_COMPILE);
    QT_CHECK(log && strncmp(log, "strict.a1 spills registers for sm_90a", 37) == 0 &&
                 strstr(log, "allow_spills") && strstr(log, "spill loads"),
             "the reason heads the log: %.200s", log ? log : "(null)");
    QT_CHECK(strstr(qg_last_error(NULL), "strict.a1"), "message names the variant: %s",
             qg_last_error(NULL));
    QT_OK(qg_check_spills(&va, "sm_90a", &copy));
    QT_OK(qg_check_spills(&va, "sm_80", &copy));
    QT_STATUS(qg_check_spills(&va, "sm_89", &copy), QG_ERR_COMPILE);
    QT_OK(qg_check_spills(&vall, "sm_89", &copy));
    QT_OK(qg_check_spills(&vs, "sm_90a", &lean_log));
    char *none = NULL;
    QT_OK(qg_check_spills(&vs, "sm_90a", &none));
    /* the catalog: an allowance names real architectures */
    for (int i = 0; i < qg_catalog_count(); i++) {
        const char *a = qg_catalog_get(i)->family->allow_spills;
        QT_CHECK(!a || !strcmp(a, "all") || !strncmp(a, "sm_", 3), "%s: allow_spills '%s'",
                 qg_catalog_get(i)->id, a);
    }
    /* serialized wgmmas: ptxas's line heads the log; a lean kernel passes */
    char *ser_log = compile_log(serialized);
    QT_CHECK(ser_log && strstr(ser_log, "serialized"), "ptxas reports the serialization: %s",
             ser_log ? ser_log : "(null)");
    QT_STATUS(qg_check_wgmma_serialized(&vs, "sm_90a", &ser_log), QG_ERR_COMPILE);
    QT_CHECK(ser_log &&
                 strncmp(ser_log, "strict.a1: ptxas serializes its wgmmas for sm_90a: ", 51) == 0 &&
                 strstr(ser_log, "C751"),
             "the reason heads the log: %.300s", ser_log ? ser_log : "(null)");
    QT_OK(qg_check_wgmma_serialized(&vs, "sm_90a", &lean_log));
    QT_OK(qg_check_wgmma_serialized(&vs, "sm_90a", &none));
    free(log), free(copy), free(lean_log), free(ser_log);
    return qt_finish("test_check_spills");
}
