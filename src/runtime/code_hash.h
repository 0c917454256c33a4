/*
 * Code hashes: what a tuning entry was timed on. A variant's hash covers what determines its
 * behaviour on the device: the code and data sections of its compiled image (not the compiler's
 * notes, which name the ptxas build and its options, nor debug sections or symbol names), the
 * images of the helper kernels its launch also runs, and for families that call a library
 * (cuBLASLt) their policy. Source edits that compile to the same code change nothing.
 */
#ifndef QG_CODE_HASH_H
#define QG_CODE_HASH_H

#include "catalog.h"

/* Hex digest length plus NUL ("0123456789abcdef"). */
#define QG_CODE_HASH_LEN 17

/* 64-bit hash of a compiled image's behaviour-determining parts. An image that is not a
 * well-formed ELF64 file (a stand-in compiler's) is hashed whole. */
uint64_t qg_image_code_hash(const void *image, size_t size);

/*
 * The code hash of a variant as hex into out[QG_CODE_HASH_LEN]: `image_hash` is
 * qg_image_code_hash of its image (ignored for a family without source), `helper_hex` the code
 * hash of its helper kernel (NULL when its family has none).
 */
void qg_code_hash_hex(const qg_variant *v, uint64_t image_hash, const char *helper_hex, char *out);

/*
 * Device-free code hash of `v` compiled for `arch`: its image comes from the disk cache under
 * `cache_dir` (NULL or "": none) when there, else from the compiler (then stored there).
 * QG_ERR_UNSUPPORTED_ARCH if v is not compiled for arch; compile errors as qg_jit_compile.
 */
qg_status qg_variant_code_hash(const qg_variant *v, const char *arch, const char *cache_dir,
                               char *out);

/* The helper kernel variant `v`'s launch also runs (NULL: none, or not in the catalog). */
const qg_variant *qg_variant_helper(const qg_variant *v);

#endif
