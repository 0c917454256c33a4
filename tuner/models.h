/* Linear-layer shapes of a transformer, from a Hugging Face config.json or a built-in name. */
#ifndef QG_MODELS_H
#define QG_MODELS_H

#include <stdint.h>

typedef struct {
    char name[32]; /* "qkv", "o", "gate_up", "down" */
    int64_t n, k;
} model_linear;

typedef struct {
    char model[64];
    int64_t hidden, intermediate, heads, kv_heads, head_dim;
} model_dims;

/* Built-in: llama-3-8b, llama-3-70b, phi-4-mini. 0 if unknown. */
int model_builtin(const char *name, model_dims *out);
/* Names of the built-ins, comma-separated. */
const char *model_builtin_names(void);
/* Parse config.json; 0 and a message in err on failure. */
int model_from_hf_config(const char *path, model_dims *out, char *err, int err_len);
/* The 4 linears (q/k/v fused, o, gate/up fused, down) split for tensor parallelism `tp`.
 * 0 and a message if a dimension does not divide by tp. */
int model_linears(const model_dims *d, int tp, model_linear out[4], char *err, int err_len);

#endif
