/* qgemm info | check | list */
#include "cli.h"

#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    if (!s || !((*s >= '0' && *s <= '9') || *s == '-')) return 0; /* no spaces, no '+' */
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_parse_seconds(const char *s, double lo, double hi, double *out) {
    char *end;
    if (!s || !*s) return 0;
    const double v = strtod(s, &end);
    if (*end || !(v > lo && v <= hi)) return 0; /* also rejects nan and inf */
    *out = v;
    return 1;
}

int cli_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: qgemm info [--json]\n\nPrints the library version, the GPU found (or why none), "
               "the catalog size, the\njit cache directory, the shipped databases' directory and "
               "the tuning database in use.\nExit 0 even without a GPU. --json: one JSON object "
               "(docs/cli_json.md).\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "qgemm info: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (cli_json_output) return cli_json_info();
    printf("qgemm %s (format version %d)\n", qg_version_string(), QG_FORMAT_VERSION);
    printf("catalog: %d kernel variants\n", qg_catalog_size());
    qg_context *ctx;
    qg_status s = qg_context_create(&ctx, NULL);
    if (s != QG_SUCCESS) {
        printf("device: none (%s): %s\n", qg_status_name(s), qg_last_error(NULL));
        cli_print_paths(NULL);
        return 0;
    }
    qg_device_info d;
    qg_context_device_info(ctx, &d);
    printf("device: %s, %s (cc %d.%d), %d SMs, %.1f GiB, L2 %d MiB, driver %d, compiler %d\n",
           d.name, d.arch, d.cc_major, d.cc_minor, d.sm_count, (double)d.total_mem / (1 << 30),
           d.l2_bytes >> 20, d.driver_version, d.compiler_version);
    cli_print_paths(ctx);
    qg_context_destroy(ctx);
    return 0;
}

int cli_list(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: qgemm list [PREFIX] [--json]\n\nLists the catalog's kernel variant ids (those "
               "starting with PREFIX). Experimental variants (not yet\nvalidated on hardware) are "
               "only used by the tuner, which checks them first.\n");
        return 0;
    }
    const char *prefix = argc > 1 ? argv[1] : "";
    if (cli_json_output) return cli_json_list(prefix);
    for (int i = 0; i < qg_catalog_size(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (strncmp(v->id, prefix, strlen(prefix))) continue;
        printf("%s%s\n", v->id,
               v->family->experimental ? "  (experimental: tuner only)"
               : !v->family->source    ? "  (library call, no JIT)"
                                       : "");
    }
    return 0;
}

typedef struct {
    int verbose;
    int done, total;
    double t0;
} check_state;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void on_variant(void *user, const char *id, qg_status s, const char *log, double sec) {
    check_state *st = user;
    st->done++;
    double el = now_s() - st->t0;
    if (s != QG_SUCCESS) {
        printf("FAIL %s (%s)\n%s\n", id, qg_status_name(s), log ? log : "");
    } else if (st->verbose) {
        printf("ok   %-48s %6.2f s\n", id, sec);
    }
    if (!st->verbose && s == QG_SUCCESS) {
        double eta = st->done ? el / st->done * (st->total - st->done) : 0;
        fprintf(stderr, "\r[%d/%d] %.0f s elapsed, ETA %.0f s   ", st->done, st->total, el, eta);
    }
    fflush(stdout);
}

int cli_check(int argc, char **argv) {
    const char *arch = "sm_90a";
    int threads = 0;
    check_state st = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: qgemm check [--arch ARCH] [-j N] [--verbose]\n\n"
                   "Compiles every kernel variant of the catalog for ARCH (sm_80, sm_89, sm_90a, "
                   "gfx90a;\ndefault sm_90a) with NVRTC (hiprtc for gfx*). Needs no GPU. Prints "
                   "each failure with the\ncompiler log; exit 1 if any variant failed. A variant "
                   "whose kernel spills registers\n(ptxas) fails unless its family sets "
                   "allow_spills; so does one whose wgmmas ptxas\nserializes (or where it "
                   "injects a wgmma wait: the async pipeline is gone).\n");
            return 0;
        } else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            arch = argv[++i];
        } else if (!strncmp(argv[i], "--arch=", 7)) {
            arch = argv[i] + 7;
        } else if (!strcmp(argv[i], "-j") && i + 1 < argc) {
            long long t;
            if (!cli_parse_int(argv[++i], 0, 1024, &t)) {
                fprintf(stderr, "qgemm check: bad -j '%s' (want 0 to 1024 threads)\n", argv[i]);
                return 2;
            }
            threads = (int)t;
        } else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
            st.verbose = 1;
        } else {
            fprintf(stderr, "qgemm check: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    st.t0 = now_s();
    for (int i = 0; i < qg_catalog_count(); i++) /* the ones compiled for this arch */
        st.total += qg_family_targets_arch(qg_catalog_get(i)->family, arch);
    if (st.total == 0) { /* e.g. sm_70: "0 compiled" must not read as a pass */
        fprintf(stderr,
                "qgemm check: no catalog kernel targets '%s' (architectures: sm_80, sm_89, "
                "sm_90a, gfx90a)\n",
                arch);
        return 1;
    }
    qg_check_result r = {0};
    qg_status s = qg_check_catalog(arch, threads, on_variant, &st, &r);
    if (!st.verbose) fprintf(stderr, "\n");
    printf("check %s: %d compiled, %d failed, %d not for this arch, %.1f s\n", arch, r.compiled,
           r.failed, r.skipped, r.seconds);
    if (s != QG_SUCCESS) {
        fprintf(stderr, "qgemm check: %s\n", qg_last_error(NULL));
        return 1;
    }
    return 0;
}
