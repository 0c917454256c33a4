/*
 * Params by probe (see cutlass_params.h): decoding a probe's output into a plan, and binding a
 * plan to real pointers per call. No device work here; binding calls the driver's encoder only.
 */
#include "cutlass_params.h"

#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(qg_tma_recipe) == 128, "a recipe fills one descriptor");
_Static_assert(sizeof(qg_tensor_map) == 128, "a descriptor is 128 bytes");

static const char *const op_names[QG_CUTLASS_NUM_OPS] = {"weight", "activations", "scales", "output"};

uint64_t qg_cutlass_sentinel(int operand) {
    return QG_CUTLASS_SENTINEL_BASE + (uint64_t)operand * QG_CUTLASS_SENTINEL_SPAN;
}

/* The operand whose sentinel range holds `v` (-1: none), and the offset into it. */
static int operand_of(uint64_t v, uint64_t *delta) {
    if (v < QG_CUTLASS_SENTINEL_BASE) return -1;
    const uint64_t i = (v - QG_CUTLASS_SENTINEL_BASE) / QG_CUTLASS_SENTINEL_SPAN;
    if (i >= QG_CUTLASS_NUM_OPS) return -1;
    *delta = v - qg_cutlass_sentinel((int)i);
    return (int)i;
}

/* The rules cuTensorMapEncodeTiled documents for the fields a recipe carries (the address is
 * checked when bound). 0 with the reason otherwise. */
static int recipe_valid(const qg_tma_recipe *r, char *why, size_t len) {
    if (r->rank < 1 || r->rank > 5) return snprintf(why, len, "rank %u", r->rank), 0;
    if (r->dtype > 12) return snprintf(why, len, "data type %u", r->dtype), 0;
    if (r->interleave != 0) return snprintf(why, len, "interleave %u", r->interleave), 0;
    if (r->swizzle > 3) return snprintf(why, len, "swizzle %u", r->swizzle), 0;
    if (r->l2_promotion > 3) return snprintf(why, len, "L2 promotion %u", r->l2_promotion), 0;
    if (r->oob_fill > 1) return snprintf(why, len, "OOB fill %u", r->oob_fill), 0;
    for (unsigned i = 0; i < r->rank; i++) {
        if (r->dims[i] < 1 || r->dims[i] > (1ull << 32))
            return snprintf(why, len, "dimension %u is %llu", i, (unsigned long long)r->dims[i]), 0;
        if (r->box[i] < 1 || r->box[i] > 256)
            return snprintf(why, len, "box dimension %u is %u", i, r->box[i]), 0;
        if (r->element_strides[i] < 1 || r->element_strides[i] > 8)
            return snprintf(why, len, "element stride %u is %u", i, r->element_strides[i]), 0;
        if (i > 0 && (r->strides[i - 1] % 16 || r->strides[i - 1] >= (1ull << 40)))
            return snprintf(why, len, "byte stride %u is %llu", i,
                            (unsigned long long)r->strides[i - 1]),
                   0;
    }
    return 1;
}

qg_status qg_cutlass_plan_decode(qg_context *ctx, const qg_cutlass_probe_out *out,
                                 const unsigned char *bytes, unsigned required_ops,
                                 qg_cutlass_plan *plan) {
    QG_RETURN_IF(ctx, !out || !bytes || !plan, QG_ERR_NULL_POINTER, "cutlass plan: NULL argument");
    QG_RETURN_IF(ctx, out->magic != QG_CUTLASS_PROBE_MAGIC, QG_ERR_INTERNAL,
                 "the CUTLASS probe kernel did not finish (no result magic)");
    QG_RETURN_IF(ctx, !out->implementable, QG_ERR_UNSUPPORTED,
                 "CUTLASS's can_implement refuses this problem");
    QG_RETURN_IF(ctx,
                 out->params_size == 0 || out->params_size > QG_CUTLASS_MAX_PARAMS ||
                     out->params_align > 128,
                 QG_ERR_INTERNAL,
                 "the CUTLASS kernel's Params (%u bytes, aligned to %u) do not fit the %d-byte "
                 "parameter buffer",
                 out->params_size, out->params_align, QG_CUTLASS_MAX_PARAMS);
    QG_RETURN_IF(ctx,
                 out->threads == 0 || out->threads > 1024 || !out->grid[0] || !out->grid[1] ||
                     !out->grid[2],
                 QG_ERR_INTERNAL,
                 "the CUTLASS probe returned an empty launch (%u threads, grid %u x %u x %u)",
                 out->threads, out->grid[0], out->grid[1], out->grid[2]);
    QG_RETURN_IF(ctx, out->cluster[0] * out->cluster[1] * out->cluster[2] != 1, QG_ERR_INTERNAL,
                 "CUTLASS kernels with thread-block clusters are not supported yet");
    memset(plan, 0, sizeof *plan);
    plan->shape = *out;
    memcpy(plan->params, bytes, out->params_size);

    unsigned seen = 0;
    unsigned char in_desc[QG_CUTLASS_MAX_PARAMS / 8] = {0}; /* 8-byte words inside a recipe */
    for (uint32_t off = 0; off + sizeof(qg_tma_recipe) <= out->params_size; off += 64) {
        qg_tma_recipe r;
        memcpy(&r, bytes + off, sizeof r);
        if (r.magic != QG_TMA_RECIPE_MAGIC) continue;
        char why[96];
        QG_RETURN_IF(ctx, !recipe_valid(&r, why, sizeof why), QG_ERR_INTERNAL,
                     "TMA recipe at byte %u of the CUTLASS Params is malformed: %s", off, why);
        uint64_t delta = 0;
        const int op = operand_of(r.address, &delta);
        QG_RETURN_IF(ctx, op < 0, QG_ERR_INTERNAL,
                     "TMA recipe at byte %u of the CUTLASS Params has address 0x%llx, no operand's",
                     off, (unsigned long long)r.address);
        QG_RETURN_IF(ctx, plan->num_tma == QG_CUTLASS_MAX_TMA, QG_ERR_INTERNAL,
                     "the CUTLASS Params hold more than %d TMA descriptors", QG_CUTLASS_MAX_TMA);
        plan->tma[plan->num_tma++] = (qg_cutlass_tma_slot){{off, op, delta}, r};
        for (uint32_t w = off / 8; w < (off + 128) / 8; w++) in_desc[w] = 1;
        seen |= 1u << op;
    }
    for (uint32_t off = 0; off + 8 <= out->params_size; off += 8) {
        if (in_desc[off / 8]) continue;
        uint64_t v, delta = 0;
        memcpy(&v, bytes + off, 8);
        const int op = operand_of(v, &delta);
        if (op < 0) continue;
        QG_RETURN_IF(ctx, plan->num_ptrs == QG_CUTLASS_MAX_PTRS, QG_ERR_INTERNAL,
                     "the CUTLASS Params hold more than %d operand pointers", QG_CUTLASS_MAX_PTRS);
        plan->ptrs[plan->num_ptrs++] = (qg_cutlass_field){off, op, delta};
        seen |= 1u << op;
    }
    for (int op = 0; op < QG_CUTLASS_NUM_OPS; op++)
        QG_RETURN_IF(ctx, (required_ops >> op & 1) && !(seen >> op & 1), QG_ERR_INTERNAL,
                     "the CUTLASS Params never mention the %s operand (no pointer, no TMA recipe)",
                     op_names[op]);
    return QG_SUCCESS;
}

void qg_cutlass_recipe_encode_args(const qg_tma_recipe *r, uint64_t address, qg_tmap_encode_nd *a) {
    memset(a, 0, sizeof *a);
    a->data_type = r->dtype;
    a->rank = r->rank;
    a->global_address = (void *)(uintptr_t)address;
    for (unsigned i = 0; i < 5; i++) {
        a->global_dim[i] = r->dims[i];
        a->box_dim[i] = r->box[i];
        a->element_strides[i] = r->element_strides[i];
        if (i < 4) a->global_strides[i] = r->strides[i];
    }
    a->interleave = r->interleave;
    a->swizzle = r->swizzle;
    a->l2_promotion = r->l2_promotion;
    a->oob_fill = r->oob_fill;
}

qg_status qg_cutlass_plan_bind(qg_context *ctx, const qg_cutlass_plan *plan,
                               const uint64_t ptrs[QG_CUTLASS_NUM_OPS], unsigned char *params) {
    QG_RETURN_IF(ctx, !plan || !ptrs || !params, QG_ERR_NULL_POINTER, "cutlass bind: NULL argument");
    QG_RETURN_IF(ctx, (uintptr_t)params & 63, QG_ERR_INVALID_ARGUMENT,
                 "cutlass bind: the Params buffer must be 64-byte aligned");
    memcpy(params, plan->params, plan->shape.params_size);
    for (int i = 0; i < plan->num_ptrs; i++) {
        const qg_cutlass_field *f = &plan->ptrs[i];
        const uint64_t v = ptrs[f->operand] + f->delta;
        memcpy(params + f->offset, &v, 8);
    }
    for (int i = 0; i < plan->num_tma; i++) {
        const qg_cutlass_tma_slot *t = &plan->tma[i];
        const uint64_t address = ptrs[t->at.operand] + t->at.delta;
        QG_RETURN_IF(ctx, address & 15, QG_ERR_INVALID_ARGUMENT,
                     "the %s operand at 0x%llx is not 16-byte aligned (TMA needs it)",
                     op_names[t->at.operand], (unsigned long long)address);
        qg_tmap_encode_nd a;
        qg_cutlass_recipe_encode_args(&t->recipe, address, &a);
        QG_CHECK(qg_cuda_tensor_map_encode_nd(ctx, (qg_tensor_map *)(void *)(params + t->at.offset),
                                              &a));
    }
    return QG_SUCCESS;
}
