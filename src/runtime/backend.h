/* Device backends (CUDA driver API, HIP) as a vtable; runtime compilers (NVRTC, hiprtc). */
#ifndef QG_BACKEND_H
#define QG_BACKEND_H

#include "internal.h"
#include "tensormap.h"

struct qg_backend_ops {
    /* .name = */ const char *name;
    /* Open the driver, pick `device`, retain its primary context, fill ctx->info. */
    qg_status (*open)(qg_context *ctx, int device);
    /* Release everything open() took. */
    void (*close)(qg_context *ctx);
    qg_status (*module_load)(qg_context *ctx, const void *image, size_t size, void **module);
    void (*module_unload)(qg_context *ctx, void *module);
    qg_status (*function_get)(qg_context *ctx, void *module, const char *name, void **fn);
    /* Allow `fn` up to `bytes` of dynamic shared memory (beyond the 48 KB default). */
    qg_status (*function_set_smem)(qg_context *ctx, void *fn, int bytes);
    /* Static shared memory (bytes) `fn` declares; the JIT subtracts it from smem_optin. */
    qg_status (*function_static_smem)(qg_context *ctx, void *fn, int *bytes);
    qg_status (*launch)(qg_context *ctx, void *fn, const unsigned grid[3], const unsigned block[3],
                        unsigned smem, void *stream, void **params);
    qg_status (*mem_alloc)(qg_context *ctx, void **p, size_t bytes);
    qg_status (*mem_free)(qg_context *ctx, void *p);
    qg_status (*memcpy_htod)(qg_context *ctx, void *dst, const void *src, size_t bytes);
    qg_status (*memcpy_dtoh)(qg_context *ctx, void *dst, const void *src, size_t bytes);
    qg_status (*memset_d8)(qg_context *ctx, void *dst, unsigned char v, size_t bytes);
    qg_status (*memset_d8_async)(qg_context *ctx, void *dst, unsigned char v, size_t bytes,
                                 void *stream);
    qg_status (*synchronize)(qg_context *ctx);
    /* Events for timing (tuner, benches). Optional: may be NULL. */
    qg_status (*event_create)(qg_context *ctx, void **ev);
    void (*event_destroy)(qg_context *ctx, void *ev);
    qg_status (*event_record)(qg_context *ctx, void *ev, void *stream);
    qg_status (*event_elapsed_ms)(qg_context *ctx, void *start, void *end, float *ms);
    /* Make the context's device context current for calls into another CUDA library
     * (cuBLASLt); ctx_leave(token) restores what the thread had. Optional: may be NULL. */
    qg_status (*ctx_enter)(qg_context *ctx, int *token);
    void (*ctx_leave)(qg_context *ctx, int token);
    /* Encode a 2-D TMA tensor map (tensormap.h) for a kernel parameter. Host only: no
     * allocation, no device call, capture-safe. Optional: NULL where there is no TMA (HIP). */
    qg_status (*tensor_map_encode)(qg_context *ctx, qg_tensor_map *map, const qg_tmap_2d *d);
    /* Whether `stream` is capturing a graph (then nothing may allocate or synchronize: the
     * dispatcher hands it an existing workspace). Optional: NULL means never capturing. */
    qg_status (*stream_is_capturing)(qg_context *ctx, void *stream, int *capturing);
};

extern const qg_backend_ops qg_backend_cuda;
extern const qg_backend_ops qg_backend_hip;

/*
 * Runtime compiler: source -> device image (cubin for CUDA, code object for HIP).
 * Needs no device. `arch` is "sm_80", "sm_89", "sm_90a", "gfx90a"...
 * *log (malloc'd, caller frees; NULL if empty) holds the compiler log: the errors on failure,
 * NVRTC's ptxas resource report (registers, stack, spills) on success.
 */
typedef struct {
    const char *name;          /* "nvrtc", "hiprtc" */
    const char *image_ext;     /* disk cache file extension: "cubin", "hsaco" */
    const char *header_suffix; /* embedded files passed as headers: ".cuh" (kernels/cuda), ".h" */
    const char *fixed_flags;   /* flags compile() always adds (hashed into JIT cache keys) */
    /* Open the library once (thread-safe). QG_ERR_NO_COMPILER with a reason if missing. */
    qg_status (*load)(char *why, size_t why_len);
    /* Compiler version as major*1000+minor*10. */
    int (*version)(void);
    qg_status (*compile)(const char *source, const char *program_name, const char *arch,
                         const char *const *options, int num_options, void **image,
                         size_t *image_size, char **log);
} qg_compiler;

extern const qg_compiler qg_compiler_nvrtc;
extern const qg_compiler qg_compiler_hiprtc;

/* The compiler for an arch string (gfx* -> hiprtc, else nvrtc). */
const qg_compiler *qg_compiler_for_arch(const char *arch);

/* A symbol of the driver library the CUDA backend opened (NULL if none or absent). */
void *qg_cuda_driver_symbol(const char *name);

#endif
