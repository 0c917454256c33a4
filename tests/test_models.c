/* Linear shapes derived from model configs (tuner/models.c): built-ins, Hugging Face
 * config.json parsing (including text_config nesting and defaults), tensor-parallel splits. */
#include "testutil.h"

#include "models.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void expect(const model_linear *l, const char *name, int64_t n, int64_t k) {
    QT_CHECK(!strcmp(l->name, name) && l->n == n && l->k == k, "%s: got %s %lldx%lld, want %lldx%lld",
             name, l->name, (long long)l->n, (long long)l->k, (long long)n, (long long)k);
}

static const char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/qgemm-test-config-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(void) {
    model_dims d;
    model_linear l[4];
    char err[256];
    QT_CHECK(model_builtin("llama-3-8b", &d), "llama-3-8b is built in");
    QT_CHECK(model_linears(&d, 1, l, err, sizeof err), "tp1: %s", err);
    expect(&l[0], "qkv", 6144, 4096);
    expect(&l[1], "o", 4096, 4096);
    expect(&l[2], "gate_up", 28672, 4096);
    expect(&l[3], "down", 4096, 14336);
    QT_CHECK(model_builtin("llama-3-70b", &d), "llama-3-70b is built in");
    QT_CHECK(model_linears(&d, 8, l, err, sizeof err), "70b tp8: %s", err);
    expect(&l[0], "qkv", 1280, 8192); /* (64 + 2*8) heads * 128 / 8 */
    expect(&l[1], "o", 8192, 1024);
    expect(&l[2], "gate_up", 7168, 8192);
    expect(&l[3], "down", 8192, 3584);
    QT_CHECK(model_builtin("phi-4-mini", &d), "phi-4-mini is built in");
    QT_CHECK(model_linears(&d, 1, l, err, sizeof err), "phi tp1: %s", err);
    expect(&l[0], "qkv", 5120, 3072);
    expect(&l[3], "down", 3072, 8192);
    QT_CHECK(!model_builtin("gpt-9", &d), "unknown model");
    /* 16 ranks for 8 KV heads: each rank keeps one replicated KV head. */
    QT_CHECK(model_builtin("llama-3-70b", &d) && model_linears(&d, 16, l, err, sizeof err), "tp16");
    expect(&l[0], "qkv", 512 + 2 * 128, 8192);
    QT_CHECK(!model_linears(&d, 3, l, err, sizeof err) && strstr(err, "tensor parallelism 3"),
             "tp3 does not divide: %s", err);

    const char *p = write_tmp(
        "{\"model_type\": \"llama\", \"hidden_size\": 2048, \"intermediate_size\": "
        "5632, \"num_attention_heads\": 32, \"num_key_value_heads\": 4}");
    QT_CHECK(p && model_from_hf_config(p, &d, err, sizeof err), "parse: %s", err);
    QT_CHECK(d.head_dim == 64 && !strcmp(d.model, "llama"), "head_dim defaults to hidden/heads");
    QT_CHECK(model_linears(&d, 1, l, err, sizeof err), "linears");
    expect(&l[0], "qkv", 2048 + 2 * 256, 2048);
    if (p) unlink(p);
    p = write_tmp("{\"text_config\": {\"hidden_size\": 1024, \"intermediate_size\": 4096, "
                  "\"num_attention_heads\": 8, \"head_dim\": 256}}");
    QT_CHECK(p && model_from_hf_config(p, &d, err, sizeof err), "nested text_config: %s", err);
    QT_CHECK(d.kv_heads == 8 && d.head_dim == 256, "kv heads default to heads, head_dim read");
    if (p) unlink(p);
    p = write_tmp("{\"hidden_size\": 1024}");
    QT_CHECK(p && !model_from_hf_config(p, &d, err, sizeof err) && strstr(err, "lacks"),
             "incomplete config rejected: %s", err);
    if (p) unlink(p);
    p = write_tmp("{not json");
    QT_CHECK(p && !model_from_hf_config(p, &d, err, sizeof err) && strstr(err, "not valid JSON"),
             "bad JSON rejected: %s", err);
    if (p) unlink(p);
    QT_CHECK(!model_from_hf_config("/nonexistent/config.json", &d, err, sizeof err), "missing file");
    return qt_finish("test_models");
}
