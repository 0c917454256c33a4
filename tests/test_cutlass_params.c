/* Params by probe (src/runtime/cutlass_params.c), on synthetic probe output and the fake driver: where
 * decoding finds TMA recipes and operand pointers, how binding patches them with real pointers
 * (descriptors encoded by the driver from the recipe), and the errors on bad probe output. */
#include "testutil.h"

#include "backend.h"
#include "fake_trace.h"
#include "cutlass_params.h"

#include <cuda.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* A recipe as the device recorder writes it (kernels/cutlass/cutlass_tma_recorder.cuh). */
static qg_tma_recipe recipe(int op, uint64_t delta, unsigned rank, unsigned dtype, uint64_t d0,
                            uint64_t d1, uint64_t stride1, unsigned box0, unsigned box1) {
    qg_tma_recipe r;
    memset(&r, 0, sizeof r);
    r.magic = QG_TMA_RECIPE_MAGIC;
    r.dtype = (unsigned char)dtype;
    r.rank = (unsigned char)rank;
    r.swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
    r.l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_128B;
    r.address = qg_cutlass_sentinel(op) + delta;
    for (int i = 0; i < 5; i++) r.dims[i] = 1, r.box[i] = 1, r.element_strides[i] = 1;
    r.dims[0] = d0, r.dims[1] = d1, r.dims[2] = 1;
    r.strides[0] = stride1, r.strides[1] = stride1 * d1;
    r.box[0] = (unsigned short)box0, r.box[1] = (unsigned short)box1;
    return r;
}

/* A Params image: random filler (never a sentinel), four recipes, three pointer fields. */
typedef struct {
    qg_cutlass_probe_out out;
    _Alignas(128) unsigned char bytes[QG_CUTLASS_MAX_PARAMS];
} probe_image;

enum { SIZE = 1000, AT_W = 64, AT_X = 256, AT_S = 448, AT_Y = 640 };

static void make_image(probe_image *im, qt_rng *rng) {
    memset(im, 0, sizeof *im);
    im->out = (qg_cutlass_probe_out){.magic = QG_CUTLASS_PROBE_MAGIC,
                                     .implementable = 1,
                                     .params_size = SIZE,
                                     .params_align = 64,
                                     .smem_bytes = 200000,
                                     .threads = 384,
                                     .grid = {132, 1, 1},
                                     .cluster = {1, 1, 1}};
    for (int i = 0; i < SIZE; i++) im->bytes[i] = (unsigned char)(qt_next(rng) & 0x3f);
    const qg_tma_recipe r[4] = {
        recipe(QG_CUTLASS_OP_W, 0, 3, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2048, 4096, 2048, 64, 128),
        recipe(QG_CUTLASS_OP_X, 0, 3, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4096, 300, 8192, 64, 128),
        recipe(QG_CUTLASS_OP_SCALE, 32, 3, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4096, 32, 8192, 64, 1),
        recipe(QG_CUTLASS_OP_Y, 0, 3, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4096, 300, 8192, 64, 32)};
    const int at[4] = {AT_W, AT_X, AT_S, AT_Y};
    for (int i = 0; i < 4; i++) memcpy(im->bytes + at[i], &r[i], sizeof r[i]);
    const uint64_t y = qg_cutlass_sentinel(QG_CUTLASS_OP_Y),
                   x = qg_cutlass_sentinel(QG_CUTLASS_OP_X) + 4096;
    const uint64_t below = QG_CUTLASS_SENTINEL_BASE - 16; /* just outside the ranges: not pointers */
    const uint64_t above = qg_cutlass_sentinel(QG_CUTLASS_NUM_OPS);
    memcpy(im->bytes + 8, &y, 8);
    memcpy(im->bytes + 16, &x, 8);
    memcpy(im->bytes + 24, &below, 8);
    memcpy(im->bytes + 32, &above, 8);
    memcpy(im->bytes + 800, &y, 8);
}

static void test_decode(qt_rng *rng) {
    probe_image im;
    make_image(&im, rng);
    static qg_cutlass_plan plan;
    QT_OK(qg_cutlass_plan_decode(NULL, &im.out, im.bytes, 15u, &plan));
    QT_CHECK(plan.num_tma == 4, "four recipes found (%d)", plan.num_tma);
    const int at[4] = {AT_W, AT_X, AT_S, AT_Y};
    for (int i = 0; i < plan.num_tma && i < 4; i++)
        QT_CHECK(plan.tma[i].at.offset == (uint32_t)at[i] && plan.tma[i].at.operand == i &&
                     plan.tma[i].at.delta == (i == QG_CUTLASS_OP_SCALE ? 32u : 0u),
                 "recipe %d: offset %u operand %d delta %llu", i, plan.tma[i].at.offset,
                 plan.tma[i].at.operand, (unsigned long long)plan.tma[i].at.delta);
    QT_CHECK(plan.num_ptrs == 3 && plan.ptrs[0].offset == 8 &&
                 plan.ptrs[0].operand == QG_CUTLASS_OP_Y && plan.ptrs[0].delta == 0 &&
                 plan.ptrs[1].offset == 16 && plan.ptrs[1].operand == QG_CUTLASS_OP_X &&
                 plan.ptrs[1].delta == 4096 && plan.ptrs[2].offset == 800 &&
                 plan.ptrs[2].operand == QG_CUTLASS_OP_Y,
             "pointer fields at 8, 16 and 800 (%d found), none for out-of-range values",
             plan.num_ptrs);
    QT_CHECK(memcmp(plan.params, im.bytes, SIZE) == 0 && plan.shape.threads == 384,
             "the plan keeps the bytes and the launch shape");

    qg_tmap_encode_nd a;
    qg_cutlass_recipe_encode_args(&plan.tma[1].recipe, 0x1000, &a);
    QT_CHECK(a.rank == 3 && a.global_address == (void *)0x1000 && a.global_dim[0] == 4096 &&
                 a.global_dim[1] == 300 && a.global_strides[0] == 8192 &&
                 a.global_strides[1] == 8192 * 300 && a.box_dim[0] == 64 && a.box_dim[1] == 128 &&
                 a.data_type == CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 &&
                 a.swizzle == CU_TENSOR_MAP_SWIZZLE_128B && a.element_strides[2] == 1,
             "encode arguments from a recipe");
}

/* Each broken probe output is refused with its status and a message naming the problem. */
static void test_decode_errors(qt_rng *rng) {
    static probe_image im;
    static qg_cutlass_plan plan;
    struct {
        const char *what, *needle;
        qg_status status;
    } cases[] = {
        {"no magic", "did not finish", QG_ERR_INTERNAL},
        {"not implementable", "can_implement", QG_ERR_UNSUPPORTED},
        {"params too large", "do not fit", QG_ERR_INTERNAL},
        {"empty grid", "empty launch", QG_ERR_INTERNAL},
        {"cluster", "clusters", QG_ERR_INTERNAL},
        {"rank 6", "rank 6", QG_ERR_INTERNAL},
        {"box 300", "box dimension 1 is 300", QG_ERR_INTERNAL},
        {"stride not 16-byte", "byte stride 1", QG_ERR_INTERNAL},
        {"address of no operand", "no operand's", QG_ERR_INTERNAL},
        {"scales missing", "scales operand", QG_ERR_INTERNAL},
    };
    for (int c = 0; c < QG_ARRAY_SIZE(cases); c++) {
        make_image(&im, rng);
        qg_tma_recipe *s = (qg_tma_recipe *)(void *)(im.bytes + AT_S);
        switch (c) {
        case 0: im.out.magic = 0; break;
        case 1: im.out.implementable = 0; break;
        case 2: im.out.params_size = QG_CUTLASS_MAX_PARAMS + 8; break;
        case 3: im.out.grid[1] = 0; break;
        case 4: im.out.cluster[0] = 2; break;
        case 5: s->rank = 6; break;
        case 6: s->box[1] = 300; break;
        case 7: s->strides[0] = 8200; break;
        case 8: s->address = 0x1000; break;
        case 9: memset(s, 0, sizeof *s); break; /* no recipe, no pointer: never mentioned */
        }
        const qg_status st = qg_cutlass_plan_decode(NULL, &im.out, im.bytes, 15u, &plan);
        QT_CHECK(st == cases[c].status && qt_contains(qg_last_error(NULL), cases[c].needle),
                 "%s: %s (%s)", cases[c].what, qg_status_name(st), qg_last_error(NULL));
    }
}

static void test_bind(qt_rng *rng) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    setenv("FAKE_CUDA_CC", "90", 1);
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.backend = QG_BACKEND_CUDA;
    cp.disable_disk_cache = 1;
    qg_context *ctx = NULL;
    if (!QT_CHECK(qg_context_create(&ctx, &cp) == QG_SUCCESS, "fake context: %s", qg_last_error(NULL)))
        return;
    static probe_image im;
    static qg_cutlass_plan plan;
    make_image(&im, rng);
    QT_OK(qg_cutlass_plan_decode(ctx, &im.out, im.bytes, 15u, &plan));
    const uint64_t ptrs[4] = {0x7f0000100000ull, 0x7f0000200000ull, 0x7f0000300000ull,
                              0x7f0000400000ull};
    static _Alignas(128) unsigned char params[QG_CUTLASS_MAX_PARAMS];
    QT_OK(qg_cutlass_plan_bind(ctx, &plan, ptrs, params));
    const int at[4] = {AT_W, AT_X, AT_S, AT_Y};
    for (int i = 0; i < 4; i++) {
        fake_tmap t;
        memcpy(&t, params + at[i], sizeof t);
        const qg_tma_recipe *r = &plan.tma[i].recipe;
        QT_CHECK(t.magic == FAKE_TMAP_MAGIC &&
                     t.address == ptrs[i] + (i == QG_CUTLASS_OP_SCALE ? 32 : 0) &&
                     t.dim[0] == r->dims[0] && t.dim[1] == r->dims[1] && t.stride == r->strides[0] &&
                     t.box[0] == r->box[0] && t.box[1] == r->box[1] && t.rank == 3 &&
                     t.data_type == r->dtype && t.swizzle == CU_TENSOR_MAP_SWIZZLE_128B &&
                     t.l2 == CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                 "descriptor %d encoded by the driver from its recipe with the real address", i);
    }
    uint64_t v[3];
    memcpy(&v[0], params + 8, 8);
    memcpy(&v[1], params + 16, 8);
    memcpy(&v[2], params + 800, 8);
    QT_CHECK(v[0] == ptrs[3] && v[1] == ptrs[1] + 4096 && v[2] == ptrs[3],
             "pointer fields patched (delta kept)");
    /* everything else is the probe's bytes */
    int same = 1;
    for (int off = 0; off < SIZE; off++) {
        int patched = off == 8 || off == 16 || off == 800 || (off >= 8 && off < 24) ||
                      (off >= 800 && off < 808);
        for (int i = 0; i < 4; i++) patched |= off >= at[i] && off < at[i] + 128;
        if (!patched && params[off] != im.bytes[off]) same = 0;
    }
    QT_CHECK(same, "bytes outside the patched fields are the probe's");

    uint64_t bad[4];
    memcpy(bad, ptrs, sizeof bad);
    bad[QG_CUTLASS_OP_X] += 8;
    QT_STATUS(qg_cutlass_plan_bind(ctx, &plan, bad, params), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(qt_contains(qg_last_error(ctx), "activations operand"), "misaligned operand named: %s",
             qg_last_error(ctx));
    QT_STATUS(qg_cutlass_plan_bind(ctx, &plan, ptrs, params + 8), QG_ERR_INVALID_ARGUMENT);
    qg_context_destroy(ctx);
}

int main(void) {
    qt_rng rng;
    qt_seed(&rng, qt_test_seed());
    test_decode(&rng);
    test_decode_errors(&rng);
    test_bind(&rng);
    return qt_finish("test_cutlass_params");
}
