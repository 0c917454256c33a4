/* The mma.sync families of the 8-bit-activation schemes (W8A8 / W4A8, int8 and fp8:
 * w8a8_mma.cuh) and of the 2:4 sparse ones (sp24_mma.cu: bf16, int8, fp8), and their wgmma
 * families (w8a8_wgmma.cuh, the TMA-fed w8a8_wgmma_ws.cuh, the sparse sp24_wgmma.cu) through
 * their real launch code, against qg_reference_gemm on the same quantized activations. Part of
 * harness.cpp (included there: its counters, random source and registry). */
struct dcase {
    qg_scheme s;
    int64_t m, n, k;
    int gs;                  /* W4A8: group size (0 per channel) */
    qg_scale_granularity ws; /* 8-bit weights: per row or per tensor */
    qg_scale_granularity as; /* activations: per token or per tensor */
    qg_dtype out;
    int bias, edge;  /* edge: padded lda, odd ldc */
    const char *fam; /* the families whose name contains this (NULL: "_mma", the mma.sync ones) */
};

static void run_dyn_case(qg_context *ctx, const dcase &c, const char *only) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = c.s;
    p.m = c.m, p.n = c.n, p.k = c.k;
    p.group_size = c.gs;
    p.has_zero_point = 0;
    p.weight_scale = c.ws;
    p.act_scale = c.as;
    /* the activation dtype quantized from (8-bit schemes) or used as is (sp24-bf16, whose
     * kernels take bf16 or f16: then the output dtype's) */
    p.act_dtype = c.s == QG_SCHEME_SP24_BF16 ? c.out : QG_DTYPE_BF16;
    p.out_dtype = c.out;
    p.has_bias = c.bias;
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz)) {
        CHECK(0, "sizes: %s", qg_last_error(NULL));
        return;
    }
    qg_packed_weight w = {aligned_alloc(64, sz.weight_bytes + 64),
                          sz.scale_bytes ? aligned_alloc(64, sz.scale_bytes + 64) : NULL, NULL,
                          sz.meta_bytes ? aligned_alloc(64, sz.meta_bytes + 64) : NULL};
    /* 16-bit activations (sp24-bf16) go in as they are; 8-bit ones quantized per token */
    const int a16bit = p.scheme == QG_SCHEME_SP24_BF16, es = a16bit ? 2 : 1;
    float *wf = (float *)malloc(sizeof(float) * p.n * p.k);
    for (int64_t i = 0; i < p.n * p.k; i++)
        wf[i] = (float)(urand() * ldexp(1, (int)((i / p.k) % 5) - 3));
    uint16_t *a16 = (uint16_t *)malloc(2 * p.m * p.k);
    for (int64_t i = 0; i < p.m * p.k; i++)
        a16[i] = qg_f32_to_bf16((float)(urand() * ldexp(1, (int)((i / p.k) % 3))));
    uint8_t *q = (uint8_t *)malloc(p.m * p.k);
    float *ascale = (float *)malloc(sizeof(float) * p.m);
    if (qg_quantize_weight(&p, wf, p.k, &w) ||
        (!a16bit && qg_quantize_activations_host(&p, a16, q, ascale))) {
        CHECK(0, "quantize: %s", qg_last_error(NULL));
        return;
    }
    /* lda (elements) * es a multiple of 16 (the kernels' 16-byte loads); the padding is garbage */
    const int64_t lda = c.edge ? p.k + 16 : p.k, ldc = c.edge ? p.n + 3 : p.n;
    uint8_t *a = (uint8_t *)aligned_alloc(64, p.m * lda * es + 64);
    memset(a, 0x7f, p.m * lda * es);
    for (int64_t i = 0; i < p.m; i++)
        memcpy(a + i * lda * es, a16bit ? (const void *)(a16 + i * p.k) : q + i * p.k, p.k * es);
    uint16_t *bias = (uint16_t *)aligned_alloc(64, 2 * p.n + 64);
    for (int64_t j = 0; j < p.n; j++) bias[j] = d2h(p.out_dtype, (float)urand());
    double *ref = (double *)malloc(sizeof(double) * p.m * p.n);
    if (qg_reference_gemm(&p, a16bit ? (const void *)a16 : q, a16bit ? NULL : ascale, &w, bias, ref)) {
        CHECK(0, "ref: %s", qg_last_error(NULL));
        return;
    }
    const size_t cb = sizeof(uint16_t) * p.m * ldc;
    uint16_t *cc = (uint16_t *)aligned_alloc(64, cb + 64);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        if (f->op != QG_OP_GEMM || !(f->scheme_mask & (1u << p.scheme))) continue;
        if (!strstr(f->name, c.fam ? c.fam : "_mma")) continue;
        if (only && !strstr(v->id, only)) continue;
        char why[256] = "";
        /* on 9.0 or else 8.9 (some fp8 tiles step aside for wgmma on 9.0, 8.9 has less shared
         * memory): every variant runs somewhere */
        if (!f->supports(&p, v->params, 90, why, sizeof why) &&
            !f->supports(&p, v->params, 89, why, sizeof why))
            continue;
        qg_kernel k;
        if (!emu_kernel(v, &k)) continue;
        const size_t wsb = f->workspace ? f->workspace(&p, v->params) : 0;
        void *dws = wsb ? calloc(1, wsb) : NULL;
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a;
        g.a_scale = a16bit ? NULL : ascale;
        g.workspace = dws;
        g.workspace_bytes = wsb;
        g.w = w;
        g.bias = c.bias ? bias : NULL;
        g.c = cc;
        g.lda = lda;
        g.ldc = ldc;
        char tag[300];
        snprintf(tag, sizeof tag, "%s M=%lld N=%lld K=%lld g%d w%s a%s ->%s bias%d edge%d", v->id,
                 (long long)p.m, (long long)p.n, (long long)p.k, c.gs,
                 c.ws == QG_SCALE_PER_ROW ? "row" : "tensor",
                 c.as == QG_SCALE_PER_ROW ? "tok" : "tensor", qg_dtype_name(c.out), c.bias, c.edge);
        memset(cc, 0xff, cb);
        const int errs0 = emu_wgmma_errors;
        const qg_status st = f->launch(ctx, &k, &p, &g, v->params, NULL);
        CHECK(emu_wgmma_errors == errs0, "%s: %d errors in the use of mbarrier/wgmma/TMA (above)",
              tag, emu_wgmma_errors - errs0);
        size_t dirty = 0; /* split-K leaves its workspace zero (every kernel shares it) */
        for (size_t b = 0; b < wsb; b++) dirty += ((unsigned char *)dws)[b] != 0;
        free(dws);
        if (st) {
            CHECK(0, "%s: launch %s: %s", tag, qg_status_name(st), qg_last_error(ctx));
            continue;
        }
        CHECK(dirty == 0, "%s: %zu workspace bytes left non-zero", tag, dirty);
        /* the kernels sum exactly (int8) or in f32 (fp8, bf16, group scales): output rounding
         * plus a few f32 ulps of the row's magnitude */
        check_c(tag, v->id, p, cc, ldc, ref, ldexp(1, -16), 1e-2);
    }
    free(wf), free(a16), free(q), free(ascale), free(a), free(bias), free(ref), free(cc);
    free(w.weight), free(w.scale), free(w.meta);
}

/* Edge shapes: M and N off the tiles, K not a multiple of the 128-k stage (W8A8: K % 16 only;
 * W4A8 needs K % 128, 2:4 K % 64: 8-bit K % 128 == 64 ends on a zero-filled half stage), a grid
 * over the 8-wide raster, per-tensor scales, padded lda, odd ldc, and 2:4 split-K (K = 2048 on 8
 * emulated SMs; sk1 variants). */
static void run_dyn_cases(qg_context *ctx, const char *only) {
    const qg_scheme I8 = QG_SCHEME_W8A8_INT8, F8 = QG_SCHEME_W8A8_FP8, W4I = QG_SCHEME_W4A8_INT8,
                    W4F = QG_SCHEME_W4A8_FP8;
    const qg_scale_granularity R = QG_SCALE_PER_ROW, T = QG_SCALE_PER_TENSOR;
    const qg_scheme S16 = QG_SCHEME_SP24_BF16, SI = QG_SCHEME_SP24_INT8, SF = QG_SCHEME_SP24_FP8;
    const qg_dtype BF = QG_DTYPE_BF16, F16 = QG_DTYPE_F16;
    const dcase cases[] = {
        {I8, 70, 130, 208, 0, R, R, BF, 1, 1},     /* W8A8: K % 128 = 80 */
        {I8, 130, 264, 400, 0, T, T, F16, 0, 0},   /* per-tensor scales, bn256's N edge */
        {F8, 70, 130, 208, 0, R, R, F16, 1, 1},    /* fp8: promotion per 128-k stage */
        {F8, 130, 136, 400, 0, T, R, BF, 0, 0},    /* per-tensor weight scale */
        {W4I, 70, 130, 384, 32, R, R, BF, 1, 1},   /* W4A8-int8: group flushes inside a stage */
        {W4I, 130, 72, 256, 128, R, T, F16, 0, 0}, /* per-tensor activation scale */
        {W4I, 33, 200, 256, 0, R, R, BF, 1, 0},    /* per channel */
        {W4F, 70, 130, 384, 128, R, R, F16, 1, 1}, /* W4A8-fp8: group 128 = one stage */
        {W4F, 130, 72, 256, 128, R, T, BF, 0, 0},  /* per-tensor activation scale */
        {S16, 70, 130, 320, 0, R, R, F16, 1, 1},   /* 2:4 f16 (dt1) */
        {S16, 20, 72, 2048, 0, R, R, BF, 1, 0},    /* 2:4 bf16 (dt2), split-K */
        {S16, 9, 136, 1024, 0, R, R, F16, 0, 0},   /* dt1's split-K tile */
        {SI, 70, 130, 192, 0, R, R, F16, 1, 1},    /* 8-bit: K % 128 = 64 */
        {SI, 20, 200, 2048, 0, T, T, BF, 0, 0},    /* split-K */
        {SF, 70, 130, 320, 0, R, T, BF, 1, 1},     /* fp8, per-tensor activation scale */
        {SF, 9, 72, 2048, 0, T, R, F16, 1, 0},     /* split-K */
        /* the W8A8 wgmma families (128-row tiles; the _ws ones persistent on 8 emulated SMs,
         * fed by TMA): M, N and K off the tiles (K % 128 = 16: a TMA box mostly out of bounds,
         * zero-filled; the padded lda's 0x7f bytes, e4m3 NaN, must not be read), and 6-10
         * tiles on 8 CTAs (some CTAs take a second tile) with 8 k-blocks (K = 1024: the stage
         * rings of 3-6 stages wrap) and per-tensor scales */
        {I8, 200, 300, 400, 0, R, R, BF, 1, 1, "_wgmma"},
        {I8, 130, 600, 1024, 0, T, T, F16, 0, 0, "_wgmma"},
        {F8, 200, 300, 400, 0, R, R, F16, 1, 1, "_wgmma"},
        {F8, 130, 600, 1024, 0, T, R, BF, 0, 0, "_wgmma"},
        /* the _ws_sk split-K families on 8 emulated SMs: 1-3 tiles with up to 8 slices (K = 2048,
         * 4096), K % 128 = 16 with a slice boundary mid-K (K = 1552), two M tiles; the last
         * unit's sum and the zeroed workspace are checked */
        {I8, 64, 256, 2048, 0, R, R, BF, 1, 1, "_ws_sk"},
        {I8, 130, 200, 1024, 0, T, T, F16, 1, 1, "_ws_sk"},
        {F8, 100, 300, 1552, 0, T, R, F16, 0, 0, "_ws_sk"},
        {F8, 20, 128, 4096, 0, R, R, BF, 1, 0, "_ws_sk"},
        /* the 2:4 sparse wgmma family (tm128 tokens x tn weight rows): M, N off the tiles (N64
         * rows past N zero-filled), a last stage group past K (16-bit K = 320: 5 of 6 stages;
         * 8-bit K = 320: 2.5 of 4), two M tiles, several groups of stages (K = 1024) */
        {S16, 70, 200, 320, 0, R, R, F16, 1, 1, "_wgmma"},  /* f16 (dt1) */
        {S16, 130, 136, 1024, 0, R, R, BF, 0, 0, "_wgmma"}, /* bf16 (dt2) */
        {S16, 70, 200, 320, 0, R, R, BF, 0, 1, "_wgmma"},
        {S16, 130, 136, 1024, 0, R, R, F16, 1, 0, "_wgmma"},
        {SI, 70, 200, 320, 0, T, T, BF, 1, 1, "_wgmma"},
        {SI, 130, 136, 1024, 0, R, R, F16, 0, 0, "_wgmma"},
        {SF, 70, 200, 320, 0, R, T, F16, 1, 1, "_wgmma"},
        {SF, 130, 136, 1024, 0, T, R, BF, 0, 0, "_wgmma"},
    };
    for (auto &c : cases) run_dyn_case(ctx, c, only);
}
