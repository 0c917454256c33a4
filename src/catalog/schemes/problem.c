/* Problem descriptions: defaults, names, validation. */
#include "schemes.h"

#include <stdio.h>
#include <string.h>

static const char *const scheme_names[QG_SCHEME_COUNT_] = {
    [QG_SCHEME_W4A16] = "w4a16",         [QG_SCHEME_W8A16] = "w8a16",
    [QG_SCHEME_W8A8_INT8] = "w8a8-int8", [QG_SCHEME_W8A8_FP8] = "w8a8-fp8",
    [QG_SCHEME_W4A8_FP8] = "w4a8-fp8",   [QG_SCHEME_W4A8_INT8] = "w4a8-int8",
    [QG_SCHEME_SP24_FP8] = "sp24-fp8",   [QG_SCHEME_SP24_INT8] = "sp24-int8",
    [QG_SCHEME_SP24_BF16] = "sp24-bf16",
};

static const char *const dtype_names[QG_DTYPE_COUNT_] = {
    [QG_DTYPE_F32] = "f32",           [QG_DTYPE_F16] = "f16",   [QG_DTYPE_BF16] = "bf16",
    [QG_DTYPE_FP8_E4M3] = "fp8_e4m3", [QG_DTYPE_INT8] = "int8", [QG_DTYPE_INT4] = "int4",
    [QG_DTYPE_INT32] = "int32",       [QG_DTYPE_F64] = "f64",
};

const char *qg_scheme_name(qg_scheme s) {
    return ((unsigned)s < QG_SCHEME_COUNT_) ? scheme_names[s] : "?";
}

qg_status qg_scheme_from_name(const char *name, qg_scheme *out) {
    if (!name || !out) return QG_ERROR(NULL, QG_ERR_NULL_POINTER, "name and out must not be NULL");
    for (int i = 0; i < QG_SCHEME_COUNT_; i++) {
        if (strcmp(name, scheme_names[i]) == 0) {
            *out = (qg_scheme)i;
            return QG_SUCCESS;
        }
    }
    return QG_ERROR(NULL, QG_ERR_NOT_FOUND,
                    "unknown scheme '%s' (w4a16, w8a16, w8a8-int8, "
                    "w8a8-fp8, w4a8-fp8, w4a8-int8, sp24-fp8, sp24-int8, sp24-bf16)",
                    name);
}

const char *qg_dtype_name(qg_dtype t) {
    return ((unsigned)t < QG_DTYPE_COUNT_) ? dtype_names[t] : "?";
}

void qg_problem_init(qg_problem *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->scheme = QG_SCHEME_W4A16;
    p->m = p->n = p->k = 0;
    p->group_size = 128;
    p->act_dtype = QG_DTYPE_BF16;
    p->out_dtype = QG_DTYPE_BF16;
    p->weight_scale = QG_SCALE_PER_ROW;
    p->act_scale = QG_SCALE_PER_ROW;
}

static int is_half(qg_dtype t) { return t == QG_DTYPE_BF16 || t == QG_DTYPE_F16; }

/* Checks common to all schemes; `need_m`: the problem is a GEMM (not just a weight). */
static qg_status validate(const qg_problem *p, int need_m) {
    QG_RETURN_IF(NULL, !p, QG_ERR_NULL_POINTER, "problem is NULL");
    QG_RETURN_IF(NULL, p->struct_size < sizeof(qg_problem), QG_ERR_INVALID_ARGUMENT,
                 "problem.struct_size is %zu, expected %zu: call qg_problem_init()", p->struct_size,
                 sizeof(qg_problem));
    QG_RETURN_IF(NULL, (unsigned)p->scheme >= QG_SCHEME_COUNT_, QG_ERR_INVALID_ARGUMENT,
                 "unknown scheme %d", (int)p->scheme);
    QG_RETURN_IF(NULL, p->n <= 0 || p->k <= 0 || (need_m && p->m <= 0), QG_ERR_INVALID_ARGUMENT,
                 "dimensions must be positive (M=%lld N=%lld K=%lld)", (long long)p->m,
                 (long long)p->n, (long long)p->k);
    QG_RETURN_IF(NULL, p->n >= (1ll << 31) || p->k >= (1ll << 31) || p->m >= (1ll << 31),
                 QG_ERR_INVALID_ARGUMENT, "dimensions must be below 2^31");
    QG_RETURN_IF(NULL, !is_half(p->out_dtype), QG_ERR_INVALID_ARGUMENT,
                 "out_dtype must be bf16 or f16, got %s", qg_dtype_name(p->out_dtype));
    QG_RETURN_IF(NULL, !is_half(p->act_dtype), QG_ERR_INVALID_ARGUMENT,
                 "act_dtype must be bf16 or f16, got %s", qg_dtype_name(p->act_dtype));
    QG_RETURN_IF(NULL, p->weight_scale != QG_SCALE_PER_ROW && p->weight_scale != QG_SCALE_PER_TENSOR,
                 QG_ERR_INVALID_ARGUMENT, "weight_scale must be per-row or per-tensor");
    QG_RETURN_IF(NULL, p->act_scale != QG_SCALE_PER_ROW && p->act_scale != QG_SCALE_PER_TENSOR,
                 QG_ERR_INVALID_ARGUMENT, "act_scale must be per-row (token) or per-tensor");
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    QG_RETURN_IF(NULL, !t || !t->validate, QG_ERR_UNSUPPORTED,
                 "scheme %s has no host implementation in this build", qg_scheme_name(p->scheme));
    char why[256] = "";
    qg_status s = t->validate(p, why, sizeof why);
    QG_RETURN_IF(NULL, s != QG_SUCCESS, s, "%s: %s", qg_scheme_name(p->scheme), why);
    return QG_SUCCESS;
}

qg_status qg_problem_validate(const qg_problem *p) { return validate(p, 1); }
qg_status qg_problem_validate_weight(const qg_problem *p) { return validate(p, 0); }
