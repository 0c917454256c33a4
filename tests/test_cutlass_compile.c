/* The CUTLASS-built variants (kernels/cutlass/) compile with NVRTC for sm_90a from the headers
 * of the nvidia-cutlass package: a cubin holding the GEMM, probe and repack entries, with no
 * register spills and no serialized wgmma (ptxas C7509). Also: without the headers, a clear
 * QG_ERR_UNSUPPORTED. Slow (minutes of one core per variant): labelled "catalog" so that only
 * the release stage of scripts/test.sh runs it; catalog_compile_sm90a leaves these variants to
 * it. Prints SKIP (exit 0) where NVRTC or the CUTLASS headers are absent. */
#include "testutil.h"

#include "backend.h"
#include "cutlass_jit.h"
#include "jit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* `needle` occurs in the `n` bytes of `hay` (entry names are plain strings in a cubin). */
static int has_bytes(const void *hay, size_t n, const char *needle) {
    const size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp((const char *)hay + i, needle, m) == 0) return 1;
    return 0;
}

static void absent_headers(void) {
    setenv("QGEMM_CUTLASS_INCLUDE", "/nonexistent/cutlass/include", 1);
    const qg_variant *v = qg_catalog_find("w4a16_cutlass.tn128");
    void *img = NULL;
    size_t n = 0;
    char *log = NULL;
    QT_STATUS(qg_jit_compile(v, "sm_90a", &img, &n, &log, NULL), QG_ERR_UNSUPPORTED);
    QT_CHECK(qt_contains(qg_last_error(NULL), "/nonexistent/cutlass/include") &&
                 qt_contains(qg_last_error(NULL), "nvidia-cutlass"),
             "the message names the directory and the package: %s", qg_last_error(NULL));
    free(img);
    free(log);
}

int main(void) {
    QT_CHECK(qg_catalog_find("w4a16_cutlass.tn128") != NULL, "the variant is in the catalog");
    qt_in_child("absent headers", absent_headers);

    char why[512], inc[1024], cuda[1024];
    int ver = 0;
    if (qg_compiler_nvrtc.load(why, sizeof why) != QG_SUCCESS) {
        printf("SKIP (no NVRTC): %s\n", why);
        return qt_finish("test_cutlass_compile");
    }
    if (qg_cutlass_find_include(inc, cuda, sizeof inc, &ver) != QG_SUCCESS) {
        printf("SKIP (no CUTLASS headers): %s\n", qg_last_error(NULL));
        return qt_finish("test_cutlass_compile");
    }
    printf("CUTLASS %d.%d.%d in %s, CUDA headers in %s\n", ver / 10000, ver / 100 % 100, ver % 100,
           inc, cuda);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (strcmp(v->family->name, "w4a16_cutlass") != 0) continue;
        void *img = NULL;
        size_t n = 0;
        char *log = NULL;
        double ms = 0;
        QT_OK(qg_jit_compile(v, "sm_90a", &img, &n, &log, &ms));
        printf("%s: %.1f s, cubin %zu bytes\n", v->id, ms / 1000.0, n);
        QT_CHECK(img && n > 0, "%s: a cubin", v->id);
        QT_CHECK(img && has_bytes(img, n, v->family->entry) &&
                     has_bytes(img, n, "qg_cutlass_w4a16_probe") &&
                     has_bytes(img, n, "qg_cutlass_w4a16_repack"),
                 "%s: the cubin has the GEMM, probe and repack entries", v->id);
        QT_CHECK(log && strstr(log, "Function properties for qg_cutlass_w4a16"),
                 "%s: ptxas reported the kernel", v->id);
        QT_CHECK(qg_ptxas_sum(log, "bytes spill stores") == 0 &&
                     qg_ptxas_sum(log, "bytes spill loads") == 0,
                 "%s: no spills:\n%s", v->id, log ? log : "");
        QT_CHECK(!qt_contains(log, "C7509") && !qt_contains(log, "serialized"),
                 "%s: wgmma not serialized (ptxas C7509):\n%s", v->id, log ? log : "");
        free(img);
        free(log);
    }
    return qt_finish("test_cutlass_compile");
}
