/*
 * JIT: variant -> full source (prelude + family source) -> NVRTC/hiprtc -> image, cached in
 * memory per context and on disk under the cache directory, keyed by a hash of everything that
 * changes the image (source, options, arch, compiler version, library version).
 */
#ifndef QG_JIT_H
#define QG_JIT_H

#include "catalog.h"

struct qg_kernel {
    const qg_variant *variant;
    void *module;
    void *fn;
    double compile_ms; /* 0 when loaded from the disk cache */
    int from_disk;
    uint64_t image_hash; /* qg_image_code_hash of its image; 0 without one (library call) */
};

/* Full source and options for a variant; returns the 64-bit cache key. */
uint64_t qg_jit_key(const qg_variant *v, const char *arch, int compiler_version);

/* Compile one variant for `arch` without a device (qgemm check). *log malloc'd on failure. */
qg_status qg_jit_compile(const qg_variant *v, const char *arch, void **image, size_t *size,
                         char **log, double *ms);

/* qgemm check (check.c): the sum over a compiler log (ptxas -v) of the numbers before
 * `what` in each kernel's report, e.g. "bytes spill stores", "bytes stack frame". */
long qg_ptxas_sum(const char *log, const char *what);
/* A variant compiled for `arch` whose kernel spills registers (its compile log says so) fails
 * the check (QG_ERR_COMPILE; *log then starts with the reason) unless its family's
 * allow_spills lists arch. */
qg_status qg_check_spills(const qg_variant *v, const char *arch, char **log);
/* A variant whose compile log says ptxas serialized its wgmmas or injected a wgmma wait
 * (C7509-C7517: the asynchronous pipeline its source writes does not exist in the SASS) fails
 * the check (QG_ERR_COMPILE; *log then starts with ptxas's line). */
qg_status qg_check_wgmma_serialized(const qg_variant *v, const char *arch, char **log);

/* Get (compile / disk-load / memory-hit) a variant's kernel on ctx's device. */
qg_status qg_jit_get(qg_context *ctx, const qg_variant *v, qg_kernel **out);

/*
 * The code hash (code_hash.h) of `v` as loaded on ctx's device, as hex into
 * out[QG_CODE_HASH_LEN]: loads v and its helper kernel (memory hits once planned).
 */
qg_status qg_jit_code_hash(qg_context *ctx, const qg_variant *v, char *out);

/*
 * Disk cache helpers (exposed for tests). Files live at <dir>/<arch>/<16-hex key>.cubin (.hsaco
 * for gfx*). Read returns QG_ERR_NOT_FOUND on a miss; a corrupt or truncated file is deleted and
 * reported as a miss (the thread's qg_last_error(NULL) then says "corrupt"). Write is atomic
 * (unique temporary file, fsync, rename): concurrent writers leave one complete file.
 */
qg_status qg_disk_cache_read(const char *dir, const char *arch, uint64_t key, void **image,
                             size_t *size);
qg_status qg_disk_cache_write(const char *dir, const char *arch, uint64_t key, const void *image,
                              size_t size);
/* Path of the cache file for a key. */
void qg_disk_cache_path(const char *dir, const char *arch, uint64_t key, char *out, size_t out_len);

qg_jit_cache *qg_jit_cache_create(void);
void qg_jit_cache_destroy(qg_context *ctx, qg_jit_cache *c);

#endif
