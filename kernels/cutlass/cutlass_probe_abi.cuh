/*
 * The plain-C contract between the CUTLASS probe kernel (w4a16_sm90_mixed.cu, NVRTC C++) and the
 * host (src/runtime/cutlass_params.c, C11): one definition for both sides. Only fixed-width unsigned
 * types that both C11 and NVRTC know without headers.
 */
#ifndef QG_CUTLASS_PROBE_ABI_CUH
#define QG_CUTLASS_PROBE_ABI_CUH

#define QG_CUTLASS_PROBE_MAGIC 0x51474350u /* "PCGQ": the probe ran to the end */
#define QG_TMA_RECIPE_MAGIC 0x51475452u    /* "RTGQ": a descriptor slot holding a recipe */
/* Distinct, 16-byte aligned, never-mapped addresses the probe gets instead of real pointers, so
 * that the host can find where Params keeps each operand (pointer fields and TMA recipes). An
 * operand's fields may hold base + offset with offset < QG_CUTLASS_SENTINEL_SPAN. */
#define QG_CUTLASS_SENTINEL_BASE 0x7a0000000000ull
#define QG_CUTLASS_SENTINEL_SPAN 0x10000000000ull /* 1 TiB per operand */
enum {
    QG_CUTLASS_OP_W = 0,
    QG_CUTLASS_OP_X,
    QG_CUTLASS_OP_SCALE,
    QG_CUTLASS_OP_Y,
    QG_CUTLASS_NUM_OPS
};

/* Probe input: our problem (Y[m x n] = X[m x k] W[n x k]^T), operand pointers (sentinels). */
typedef struct {
    unsigned long long w, x, scale, y;
    long long lda, ldc;      /* row strides of X and Y, elements */
    int m, n, k, group_size; /* group_size: K for one group per row */
    int sm_count;
    unsigned params_capacity; /* bytes at params_bytes */
} qg_cutlass_probe_in;

/* Probe output: what a launch needs besides the Params bytes. */
typedef struct {
    unsigned magic;         /* QG_CUTLASS_PROBE_MAGIC once written */
    unsigned implementable; /* GemmKernel::can_implement */
    unsigned params_size, params_align;
    unsigned smem_bytes, threads;
    unsigned grid[3], cluster[3];
    unsigned long long workspace_bytes;
} qg_cutlass_probe_out;

/*
 * A TMA descriptor recipe: the arguments cute passed to cuTensorMapEncodeTiled, written into the
 * 128 bytes of the descriptor (64-byte aligned inside Params). Enum values are cuda.h's.
 */
typedef struct {
    unsigned magic; /* QG_TMA_RECIPE_MAGIC */
    unsigned char dtype, rank, interleave, swizzle, l2_promotion, oob_fill, pad[6];
    unsigned long long address;    /* a sentinel (+ offset) */
    unsigned long long dims[5];    /* elements */
    unsigned long long strides[4]; /* bytes, of dims 1 .. rank-1 */
    unsigned short box[5];         /* elements */
    unsigned char element_strides[5];
    unsigned char pad2[17];
} qg_tma_recipe;

#ifdef __cplusplus
/* The recorder (cutlass_tma_recorder.cuh under NVRTC; tests/cutlass_host_check.cu on the host):
 * cuTensorMapEncodeTiled's arguments as a recipe in the 128 descriptor bytes at `desc`. */
template <class Dim, class Box>
__host__ __device__ inline void
qg_tma_recipe_write(void *desc, unsigned dtype, unsigned rank, const void *address, const Dim *dims,
                    const Dim *strides, const Box *box, const Box *element_strides,
                    unsigned interleave, unsigned swizzle, unsigned l2, unsigned oob) {
    static_assert(sizeof(qg_tma_recipe) == 128, "a recipe fills one descriptor");
    qg_tma_recipe r{};
    r.magic = QG_TMA_RECIPE_MAGIC;
    r.dtype = (unsigned char)dtype;
    r.rank = (unsigned char)rank;
    r.interleave = (unsigned char)interleave;
    r.swizzle = (unsigned char)swizzle;
    r.l2_promotion = (unsigned char)l2;
    r.oob_fill = (unsigned char)oob;
    r.address = (unsigned long long)address;
    for (unsigned i = 0; i < 5; i++) {
        r.dims[i] = i < rank ? (unsigned long long)dims[i] : 1;
        r.box[i] = (unsigned short)(i < rank ? box[i] : 1);
        r.element_strides[i] = (unsigned char)(i < rank ? element_strides[i] : 1);
        if (i < 4) r.strides[i] = i + 1 < rank ? (unsigned long long)strides[i] : 0;
    }
    const unsigned char *s = reinterpret_cast<const unsigned char *>(&r);
    unsigned char *d = static_cast<unsigned char *>(desc);
    for (unsigned i = 0; i < sizeof r; i++) d[i] = s[i];
}
#endif

#endif
