/* The README's minimal example: quantize a weight to int4, run C = A * W^T on the GPU.
 * On a machine without a GPU it prints why and exits 0 (it is also a CI test). */
#include <qgemm.h>

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    enum { M = 4, N = 256, K = 512 };
    qg_problem p;
    qg_problem_init(&p); /* W4A16, group 128, symmetric, bf16 in/out */
    p.m = M, p.n = N, p.k = K;

    /* 1. Quantize and pack the weight on the host. */
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz) != QG_SUCCESS) return fprintf(stderr, "%s\n", qg_last_error(NULL)), 1;
    float *w = malloc(sizeof(float) * N * K);
    uint16_t *a = malloc(sizeof(uint16_t) * M * K);
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 7919) % 17 - 8) / 8.0f;
    for (int i = 0; i < M * K; i++) a[i] = qg_f32_to_bf16((float)(i % 13) / 13.0f);
    qg_packed_weight host = {malloc(sz.weight_bytes), malloc(sz.scale_bytes), NULL, NULL};
    if (qg_quantize_weight(&p, w, K, &host) != QG_SUCCESS) return fprintf(stderr, "%s\n", qg_last_error(NULL)), 1;

    /* 2. A context on GPU 0; without a GPU this is where we stop. */
    qg_context *ctx;
    qg_status s = qg_context_create(&ctx, NULL);
    if (s != QG_SUCCESS) {
        printf("no GPU here (%s): %s\n", qg_status_name(s), qg_last_error(NULL));
        free(w), free(a), free(host.weight), free(host.scale);
        return 0;
    }

    /* 3. Upload, run, read back. */
    qg_gemm_args args;
    qg_gemm_args_init(&args);
    void *da, *dc;
    qg_malloc(ctx, &da, sizeof(uint16_t) * M * K);
    qg_malloc(ctx, &dc, sizeof(uint16_t) * M * N);
    qg_malloc(ctx, &args.w.weight, sz.weight_bytes);
    qg_malloc(ctx, &args.w.scale, sz.scale_bytes);
    qg_memcpy_htod(ctx, da, a, sizeof(uint16_t) * M * K);
    qg_memcpy_htod(ctx, args.w.weight, host.weight, sz.weight_bytes);
    qg_memcpy_htod(ctx, args.w.scale, host.scale, sz.scale_bytes);
    args.a = da, args.c = dc;
    s = qg_gemm(ctx, &p, &args, NULL);
    if (s == QG_SUCCESS) s = qg_synchronize(ctx);
    uint16_t c[M * N];
    if (s == QG_SUCCESS) s = qg_memcpy_dtoh(ctx, c, dc, sizeof c);
    if (s == QG_SUCCESS) printf("C[0][0] = %f\n", qg_bf16_to_f32(c[0]));
    else fprintf(stderr, "%s\n", qg_last_error(ctx));

    qg_free(ctx, da), qg_free(ctx, dc), qg_free(ctx, args.w.weight), qg_free(ctx, args.w.scale);
    qg_context_destroy(ctx);
    free(w), free(a), free(host.weight), free(host.scale);
    return s == QG_SUCCESS ? 0 : 1;
}
