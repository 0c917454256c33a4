#include "models.h"

#include "qgemm.h"
#include "db.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const model_dims builtins[] = {
    {"llama-3-8b", 4096, 14336, 32, 8, 128},
    {"llama-3-70b", 8192, 28672, 64, 8, 128},
    {"phi-4-mini", 3072, 8192, 24, 8, 128},
};

int model_builtin(const char *name, model_dims *out) {
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (!strcmp(name, builtins[i].model)) {
            *out = builtins[i];
            return 1;
        }
    }
    return 0;
}

const char *model_builtin_names(void) { return "llama-3-8b, llama-3-70b, phi-4-mini"; }

/* Integer field `key` in [1, 2^31): its value, `fallback` when absent, -1 when present but not
 * such an integer (then *bad names it). */
static int64_t num(const cJSON *root, const char *key, int64_t fallback, const char **bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return fallback;
    const double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (!(d >= 1 && d <= 2147483647.0) || d != floor(d)) {
        if (!*bad) *bad = key;
        return -1;
    }
    return (int64_t)d;
}

int model_from_hf_config(const char *path, model_dims *out, char *err, int err_len) {
    char *buf;
    size_t len;
    /* a regular file of sane size: a directory, FIFO or device gives a clear error */
    if (qg_read_regular_file(path, (size_t)16 << 20, &buf, &len) != QG_SUCCESS) {
        snprintf(err, (size_t)err_len, "%s", qg_last_error(NULL));
        return 0;
    }
    size_t bad_at = 0;
    cJSON *root = qg_json_parse_exact(buf, len, &bad_at);
    free(buf);
    if (!root) {
        snprintf(err, (size_t)err_len, "%s is not valid JSON (near byte %zu)", path, bad_at);
        return 0;
    }
    /* Multimodal configs nest the language model under text_config. */
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    const cJSON *c = cJSON_IsObject(tc) ? tc : root;
    memset(out, 0, sizeof *out);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    snprintf(out->model, sizeof out->model, "%s", cJSON_IsString(mt) ? mt->valuestring : "hf-model");
    const char *bad = NULL;
    out->hidden = num(c, "hidden_size", 0, &bad);
    out->intermediate = num(c, "intermediate_size", 0, &bad);
    out->heads = num(c, "num_attention_heads", 0, &bad);
    out->kv_heads = num(c, "num_key_value_heads", out->heads, &bad);
    out->head_dim = num(c, "head_dim", out->heads > 0 ? out->hidden / out->heads : 0, &bad);
    cJSON_Delete(root);
    if (bad) {
        snprintf(err, (size_t)err_len, "%s: %s is not an integer from 1 to 2^31-1", path, bad);
        return 0;
    }
    /* products below (heads * head_dim, 2 * intermediate) stay far from int64 overflow */
    if (out->hidden <= 0 || out->intermediate <= 0 || out->heads <= 0 || out->head_dim <= 0) {
        snprintf(err, (size_t)err_len,
                 "%s lacks hidden_size, intermediate_size or "
                 "num_attention_heads",
                 path);
        return 0;
    }
    return 1;
}

int model_linears(const model_dims *d, int tp, model_linear out[4], char *err, int err_len) {
    int64_t q = d->heads * d->head_dim, kv = d->kv_heads * d->head_dim;
    /* With more ranks than KV heads, engines replicate KV heads: each rank keeps one. */
    int64_t kv_rank = d->kv_heads >= tp ? kv / tp : d->head_dim;
    if (q % tp || (d->kv_heads >= tp && d->kv_heads % tp) || (2 * d->intermediate) % tp ||
        d->intermediate % tp) {
        snprintf(err, (size_t)err_len,
                 "tensor parallelism %d does not divide the heads (%lld/%lld) "
                 "or intermediate size (%lld)",
                 tp, (long long)d->heads, (long long)d->kv_heads, (long long)d->intermediate);
        return 0;
    }
    out[0] = (model_linear){"qkv", q / tp + 2 * kv_rank, d->hidden};
    out[1] = (model_linear){"o", d->hidden, q / tp};
    out[2] = (model_linear){"gate_up", 2 * d->intermediate / tp, d->hidden};
    out[3] = (model_linear){"down", d->hidden, d->intermediate / tp};
    return 1;
}
