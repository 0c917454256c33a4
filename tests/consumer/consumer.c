/* A project outside qgemm's tree, built against an installed (and moved) prefix through
 * pkg-config and through find_package(qgemm) by scripts/test_dist.sh: the header, the library
 * and its dependencies must all be found from the installed files alone. */
#include <qgemm.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    if (strcmp(qg_version_string(), QG_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", QG_VERSION_STRING, qg_version_string());
        return 1;
    }
    /* W4A16, group 128, N=K=4096: 4 bits a weight, one bf16 scale and zero per group and row. */
    qg_problem p;
    qg_problem_init(&p);
    p.m = 1, p.n = 4096, p.k = 4096;
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz) != QG_SUCCESS || sz.weight_bytes != 4096u * 4096u / 2) {
        fprintf(stderr, "packed sizes: %s\n", qg_last_error(NULL));
        return 1;
    }
    /* A context needs a GPU: without one it must fail with a status, not crash. */
    qg_context *ctx = NULL;
    qg_status s = qg_context_create(&ctx, NULL);
    printf("consumer: qgemm %s, weight %zu bytes, context: %s\n", qg_version_string(),
           sz.weight_bytes, qg_status_name(s));
    qg_context_destroy(ctx);
    return 0;
}
