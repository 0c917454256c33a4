/*
 * 2:4 semi-structured sparse weights (docs/formats.md, "2:4 sparse"): SP24_BF16 (16-bit weights in
 * the activation dtype), SP24_INT8 and SP24_FP8 (8-bit weights with per-row f32 scales, multiplied
 * with per-token quantized activations).
 *
 * Host side: magnitude pruning (keep the 2 largest of every 4 consecutive K elements, ties to the
 * lower index), per-row absmax quantization for the 8-bit schemes, compression to the kept values
 * [N64, K/2] and metadata in the exact register order of mma.sp::ordered_metadata, decompression,
 * and the float64 reference GEMM that reads the packed buffers.
 *
 * Plain (unpacked) representation handed from quantize to pack (schemes.h qg_plain_weight):
 *  - sp24-int8: codes = int8 values (pruned = 0), scales[N] (groups 1).
 *  - sp24-fp8:  codes = e4m3 bits (pruned = 0x00), scales[N], fp8 = 1.
 *  - sp24-bf16: codes = 1 where kept, 0 where pruned; scales[N*K] = the kept value already
 *    rounded to the activation dtype (groups = K, group_size = 1), so the generic
 *    weight = code * scale holds exactly.
 */
#include "schemes.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometry shared with kernels/cuda/sp24_mma.cu (see docs/formats.md). */
#define SP24_ROW_GROUP 64          /* rows per metadata row group; storage pads N up to this */
#define SP24_K_BLOCK 64            /* K columns covered by one metadata word */
#define SP24_VALID_PAD_NIBBLE 0x4u /* indices (0,1): what padded rows carry */

static int is_16bit(const qg_problem *p) { return p->scheme == QG_SCHEME_SP24_BF16; }
static int elem_bytes(const qg_problem *p) { return is_16bit(p) ? 2 : 1; }
static int64_t padded_rows(int64_t n) { return QG_CDIV(n, SP24_ROW_GROUP) * SP24_ROW_GROUP; }

/*
 * Where the metadata nibble of (row, chunk) lives: 32-bit word index into the meta buffer and
 * the bit shift inside that word. chunk = k / 4. The word order is
 *   word = ((row / 64 * (K / 64) + k / 64) * 32 + lane) * 4 + (row % 64) / 16
 * with `lane` the mma.sp lane that supplies this metadata (docs/formats.md has the derivation).
 */
static void meta_locate(int sixteen_bit, int64_t k_total, int64_t row, int64_t chunk, size_t *word,
                        int *shift) {
    const int64_t group = row / 64, rr = row % 64, rb = rr / 16, r16 = rr % 16;
    const int64_t g = r16 % 8, upper = r16 / 8; /* upper: row g+8 of the 16-row block */
    const int64_t kb = chunk / 16, cc = chunk % 16;
    int64_t q; /* lane % 4 */
    if (sixteen_bit) {
        /* m16n8k32: lane%4 = 2*s + h covers K [64kb + 32s + 16h, +16); rows g (bits 0-15)
         * and g+8 (bits 16-31). s selects the k32 step (mma sparsity selector). */
        q = 2 * (cc / 8) + (cc / 4) % 2;
        *shift = (int)(16 * upper + 4 * (cc % 4));
    } else {
        /* m16n8k64: lane%4 = 2*h + u covers row g + 8u, K [64kb + 32h, +32). */
        q = 2 * (cc / 8) + upper;
        *shift = (int)(4 * (cc % 8));
    }
    const int64_t lane = 4 * g + q;
    *word = (size_t)((((group * (k_total / SP24_K_BLOCK) + kb) * 32 + lane) * 4) + rb);
}

/* The two kept indices of a 4-chunk by magnitude: largest first, ties to the lower index. */
static void prune_chunk(const float *w4, int *lo, int *hi) {
    int i0 = 0;
    for (int i = 1; i < 4; i++)
        if (fabsf(w4[i]) > fabsf(w4[i0])) i0 = i;
    int i1 = -1;
    for (int i = 0; i < 4; i++)
        if (i != i0 && (i1 < 0 || fabsf(w4[i]) > fabsf(w4[i1]))) i1 = i;
    *lo = i0 < i1 ? i0 : i1;
    *hi = i0 < i1 ? i1 : i0;
}

static qg_status sp24_validate(const qg_problem *p, char *why, size_t why_len) {
    if (p->k % SP24_K_BLOCK != 0) {
        snprintf(why, why_len,
                 "K (%lld) must be a multiple of 64: one 2:4 metadata word covers "
                 "64 columns of K",
                 (long long)p->k);
        return QG_ERR_INVALID_ARGUMENT;
    }
    /* int8: |a*w| <= 128*128 and K/2 products per output must fit the s32 accumulator. */
    if (p->scheme == QG_SCHEME_SP24_INT8 && p->k > 262144) {
        snprintf(why, why_len, "K (%lld) above 262144 could overflow the int32 accumulator",
                 (long long)p->k);
        return QG_ERR_INVALID_ARGUMENT;
    }
    return QG_SUCCESS;
}

static qg_status sp24_sizes(const qg_problem *p, qg_packed_sizes *out) {
    const int64_t n64 = padded_rows(p->n);
    out->weight_bytes = (size_t)n64 * (size_t)(p->k / 2) * (size_t)elem_bytes(p);
    out->meta_bytes = (size_t)n64 * (size_t)p->k / 8; /* 4 bits per chunk of 4 */
    out->scale_bytes = is_16bit(p) ? 0 : (size_t)p->n * sizeof(float);
    out->zero_bytes = 0;
    return QG_SUCCESS;
}

/* Round to the 16-bit activation dtype and back. */
static float round_half(qg_dtype t, float v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(qg_f32_to_f16(v)) : qg_bf16_to_f32(qg_f32_to_bf16(v));
}

static qg_status sp24_quantize(const qg_problem *p, const float *w, int64_t ldw,
                               qg_plain_weight *out) {
    const int64_t n = p->n, k = p->k;
    memset(out, 0, sizeof *out);
    out->n = n;
    out->k = k;
    const int sixteen = is_16bit(p);
    out->groups = sixteen ? (int32_t)k : 1;
    out->group_size = sixteen ? 1 : (int32_t)k;
    out->fp8 = p->scheme == QG_SCHEME_SP24_FP8;
    out->codes = calloc((size_t)(n * k), 1);
    out->scales = calloc((size_t)(n * out->groups), sizeof(float));
    if (!out->codes || !out->scales) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for a %lldx%lld plain weight",
                        (long long)n, (long long)k);
    }
    /* weights are finite: qg_quantize_weight checked */
    /* Pruned values in a row (float), then quantized. */
    float *row = malloc((size_t)k * sizeof(float));
    if (!row) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for a row of %lld", (long long)k);
    }
    const float qmax = p->scheme == QG_SCHEME_SP24_FP8 ? 448.0f : 127.0f;
    float tensor_absmax = 0;
    if (!sixteen && p->weight_scale == QG_SCALE_PER_TENSOR) {
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < k; c += 4) {
                int lo, hi;
                prune_chunk(&w[r * ldw + c], &lo, &hi);
                tensor_absmax = fmaxf(tensor_absmax,
                                      fmaxf(fabsf(w[r * ldw + c + lo]), fabsf(w[r * ldw + c + hi])));
            }
    }
    qg_status s = QG_SUCCESS;
    for (int64_t r = 0; r < n && s == QG_SUCCESS; r++) {
        float absmax = 0;
        for (int64_t c = 0; c < k; c += 4) {
            int lo, hi;
            prune_chunk(&w[r * ldw + c], &lo, &hi);
            for (int i = 0; i < 4; i++)
                row[c + i] = (i == lo || i == hi) ? w[r * ldw + c + i] : 0.0f;
            absmax = fmaxf(absmax, fmaxf(fabsf(row[c + lo]), fabsf(row[c + hi])));
            /* 16-bit: the code is the pruning mask (1 = kept, even if the value is 0). */
            if (sixteen) out->codes[r * k + c + lo] = out->codes[r * k + c + hi] = 1;
        }
        if (sixteen) {
            for (int64_t c = 0; c < k; c++) {
                const float v = row[c] != 0.0f ? round_half(p->act_dtype, row[c]) : 0.0f;
                if (isinf(v)) {
                    s = QG_ERROR(NULL, QG_ERR_INVALID_ARGUMENT,
                                 "weight (%lld,%lld) = %g overflows %s", (long long)r, (long long)c,
                                 (double)row[c], qg_dtype_name(p->act_dtype));
                    break;
                }
                out->scales[r * k + c] = v;
            }
            continue;
        }
        if (p->weight_scale == QG_SCALE_PER_TENSOR) absmax = tensor_absmax;
        const float scale = absmax > 0 ? fmaxf(absmax / qmax, FLT_TRUE_MIN) : 1.0f; /* no 0 / 0 */
        out->scales[r] = scale;
        for (int64_t c = 0; c < k; c++) {
            const float x = row[c] / scale; /* division (not a reciprocal) for reproducibility */
            if (out->fp8) {
                out->codes[r * k + c] = (int8_t)qg_f32_to_e4m3(x);
            } else {
                const float q = fminf(fmaxf(nearbyintf(x), -127.0f), 127.0f);
                out->codes[r * k + c] = (int8_t)q;
            }
        }
    }
    free(row);
    if (s != QG_SUCCESS) qg_plain_weight_free(out);
    return s;
}

/* Is element i of a plain weight non-zero (after quantization)? */
static int plain_nonzero(const qg_problem *p, const qg_plain_weight *pw, int64_t i) {
    if (is_16bit(p)) return pw->codes[i] != 0 && pw->scales[i] != 0.0f;
    if (pw->fp8) return (((uint8_t)pw->codes[i]) & 0x7fu) != 0;
    return pw->codes[i] != 0;
}

static qg_status sp24_pack(const qg_problem *p, const qg_plain_weight *pw,
                           const qg_packed_weight *out) {
    const int64_t n = p->n, k = p->k, n64 = padded_rows(n), half = k / 2;
    const int sixteen = is_16bit(p), es = elem_bytes(p);
    QG_RETURN_IF(NULL, !pw || pw->n != n || pw->k != k || !pw->codes || !pw->scales,
                 QG_ERR_INVALID_ARGUMENT, "plain weight does not match the problem (%lldx%lld)",
                 (long long)n, (long long)k);
    QG_RETURN_IF(NULL, pw->groups != (sixteen ? k : 1), QG_ERR_INVALID_ARGUMENT,
                 "plain weight has %d scale groups per row, %s needs %lld", (int)pw->groups,
                 qg_scheme_name(p->scheme), (long long)(sixteen ? k : 1));
    uint8_t *vals = out->weight;
    uint32_t *meta = out->meta;
    memset(vals, 0, (size_t)(n64 * half * es));
    memset(meta, 0, (size_t)(n64 * k / 8));
    for (int64_t r = 0; r < n64; r++) {
        for (int64_t ch = 0; ch < k / 4; ch++) {
            int idx[2] = {0, 1};
            if (r < n) {
                int cnt = 0, used[4] = {0, 0, 0, 0};
                for (int i = 0; i < 4; i++) {
                    if (!plain_nonzero(p, pw, r * k + 4 * ch + i)) continue;
                    QG_RETURN_IF(NULL, cnt == 2, QG_ERR_INVALID_ARGUMENT,
                                 "row %lld, columns %lld..%lld have more than 2 non-zeros: not 2:4 "
                                 "sparse",
                                 (long long)r, (long long)(4 * ch), (long long)(4 * ch + 3));
                    idx[cnt++] = i;
                    used[i] = 1;
                }
                /* Fewer than 2 non-zeros (a kept value quantized to 0): store zeros at the
                 * lowest free positions so the indices stay distinct and increasing. */
                for (int i = 0; i < 4 && cnt < 2; i++)
                    if (!used[i]) {
                        idx[cnt++] = i;
                        used[i] = 1;
                    }
                if (idx[0] > idx[1]) {
                    const int t = idx[0];
                    idx[0] = idx[1];
                    idx[1] = t;
                }
                for (int j = 0; j < 2; j++) {
                    const int64_t src = r * k + 4 * ch + idx[j];
                    uint8_t *dst = vals + (size_t)((r * half + 2 * ch + j) * es);
                    if (sixteen) {
                        const float v = pw->codes[src] ? pw->scales[src] : 0.0f;
                        const uint16_t bits = p->act_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(v)
                                                                           : qg_f32_to_bf16(v);
                        memcpy(dst, &bits, 2);
                    } else {
                        *dst = (uint8_t)pw->codes[src];
                    }
                }
            }
            size_t word;
            int shift;
            meta_locate(sixteen, k, r, ch, &word, &shift);
            const uint32_t nib = r < n ? (uint32_t)(idx[1] << 2 | idx[0]) : SP24_VALID_PAD_NIBBLE;
            meta[word] |= nib << shift;
        }
    }
    if (!sixteen) memcpy(out->scale, pw->scales, (size_t)n * sizeof(float));
    return QG_SUCCESS;
}

/* Decode one kept value (element j of row r's compressed array) to float, scale included. */
static double packed_value(const qg_problem *p, const qg_packed_weight *in, int64_t r, int64_t j) {
    const int64_t half = p->k / 2;
    if (is_16bit(p)) {
        uint16_t bits;
        memcpy(&bits, (const uint8_t *)in->weight + (size_t)((r * half + j) * 2), 2);
        return p->act_dtype == QG_DTYPE_F16 ? qg_f16_to_f32(bits) : qg_bf16_to_f32(bits);
    }
    const uint8_t b = ((const uint8_t *)in->weight)[r * half + j];
    const double q = p->scheme == QG_SCHEME_SP24_FP8 ? (double)qg_e4m3_to_f32(b) : (double)(int8_t)b;
    return q * (double)((const float *)in->scale)[r];
}

/*
 * Decompress row r into positions (kpos, K/2 entries) and values (kval, scale included).
 * QG_ERR_CORRUPT if a metadata nibble is not one of the six ordered (increasing) index pairs.
 */
static qg_status decode_row(const qg_problem *p, const qg_packed_weight *in, int64_t r,
                            int64_t *kpos, double *kval) {
    const int64_t k = p->k;
    const uint32_t *meta = in->meta;
    for (int64_t ch = 0; ch < k / 4; ch++) {
        size_t word;
        int shift;
        meta_locate(is_16bit(p), k, r, ch, &word, &shift);
        const uint32_t nib = (meta[word] >> shift) & 0xfu;
        const int i0 = (int)(nib & 3u), i1 = (int)(nib >> 2);
        QG_RETURN_IF(NULL, i0 >= i1, QG_ERR_CORRUPT,
                     "2:4 metadata of row %lld, columns %lld..%lld is 0x%x: indices must increase",
                     (long long)r, (long long)(4 * ch), (long long)(4 * ch + 3), nib);
        kpos[2 * ch] = 4 * ch + i0;
        kpos[2 * ch + 1] = 4 * ch + i1;
        kval[2 * ch] = packed_value(p, in, r, 2 * ch);
        kval[2 * ch + 1] = packed_value(p, in, r, 2 * ch + 1);
    }
    return QG_SUCCESS;
}

static qg_status sp24_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw) {
    const int64_t n = p->n, k = p->k;
    int64_t *kpos = malloc((size_t)(k / 2) * sizeof *kpos);
    double *kval = malloc((size_t)(k / 2) * sizeof *kval);
    qg_status s = QG_SUCCESS;
    if (!kpos || !kval) s = QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to unpack a row");
    for (int64_t r = 0; r < n && s == QG_SUCCESS; r++) {
        s = decode_row(p, in, r, kpos, kval);
        if (s != QG_SUCCESS) break;
        for (int64_t c = 0; c < k; c++) w[r * ldw + c] = 0.0f;
        for (int64_t j = 0; j < k / 2; j++) w[r * ldw + kpos[j]] = (float)kval[j];
    }
    free(kpos);
    free(kval);
    return s;
}

static double bias_value(qg_dtype t, const void *bias, int64_t n) {
    const uint16_t b = ((const uint16_t *)bias)[n];
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(b) : qg_bf16_to_f32(b);
}

static qg_status sp24_reference(const qg_problem *p, const void *a, const float *a_scale,
                                const qg_packed_weight *w, const void *bias, double *c) {
    const int64_t m = p->m, n = p->n, k = p->k;
    const qg_dtype at = is_16bit(p) ? p->act_dtype : qg_scheme_get(p->scheme)->act_qtype;
    double *ad = malloc((size_t)(m * k) * sizeof *ad);
    int64_t *kpos = malloc((size_t)(k / 2) * sizeof *kpos);
    double *kval = malloc((size_t)(k / 2) * sizeof *kval);
    qg_status s = QG_SUCCESS;
    if (!ad || !kpos || !kval)
        s = QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for the reference (M=%lld K=%lld)",
                     (long long)m, (long long)k);
    for (int64_t i = 0; i < m * k && s == QG_SUCCESS; i++) ad[i] = qg_act_decode(at, a, i);
    for (int64_t r = 0; r < n && s == QG_SUCCESS; r++) {
        s = decode_row(p, w, r, kpos, kval);
        if (s != QG_SUCCESS) break;
        const double b = p->has_bias ? bias_value(p->out_dtype, bias, r) : 0.0;
        for (int64_t t = 0; t < m; t++) {
            const double *ar = ad + t * k;
            double acc = 0;
            for (int64_t j = 0; j < k / 2; j++) acc += kval[j] * ar[kpos[j]];
            if (!is_16bit(p)) acc *= (double)a_scale[p->act_scale == QG_SCALE_PER_TENSOR ? 0 : t];
            c[t * n + r] = acc + b;
        }
    }
    free(ad);
    free(kpos);
    free(kval);
    return s;
}

#define SP24_TRAITS(var, sch, nm, bits, dyn, aq, cc) \
    const qg_scheme_traits var = {                   \
        .scheme = sch,                               \
        .name = nm,                                  \
        .weight_bits = bits,                         \
        .dynamic_act = dyn,                          \
        .act_qtype = aq,                             \
        .sparse24 = 1,                               \
        .min_cc = cc,                                \
        .validate = sp24_validate,                   \
        .sizes = sp24_sizes,                         \
        .quantize = sp24_quantize,                   \
        .pack = sp24_pack,                           \
        .unpack = sp24_unpack,                       \
        .reference = sp24_reference,                 \
    };

/* sp24-bf16: weights are stored in p->act_dtype (bf16 or f16); act_qtype is unused. */
SP24_TRAITS(qg_traits_sp24_bf16, QG_SCHEME_SP24_BF16, "sp24-bf16", 16, 0, QG_DTYPE_BF16, 80)
SP24_TRAITS(qg_traits_sp24_int8, QG_SCHEME_SP24_INT8, "sp24-int8", 8, 1, QG_DTYPE_INT8, 80)
SP24_TRAITS(qg_traits_sp24_fp8, QG_SCHEME_SP24_FP8, "sp24-fp8", 8, 1, QG_DTYPE_FP8_E4M3, 89)
