#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int qt_passed, qt_failed;

int qt_check(int cond, const char *file, int line, const char *fmt, ...) {
    if (cond) {
        qt_passed++;
        return 1;
    }
    qt_failed++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

int qt_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, qt_passed, qt_failed);
    return qt_failed ? 1 : 0;
}

void qt_seed(qt_rng *r, uint64_t seed) { r->s = seed ^ 0x9e3779b97f4a7c15ull; }

uint64_t qt_next(qt_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float qt_uniform(qt_rng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)((qt_next(r) >> 40) * (1.0 / 16777216.0));
}

float qt_normal(qt_rng *r) {
    double u1 = ((qt_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (qt_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void qt_fill_normal(qt_rng *r, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * qt_normal(r);
}

void qt_fill_bf16(qt_rng *r, uint16_t *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = qg_f32_to_bf16(scale * qt_normal(r));
}

double qt_rel_l2(const double *x, const double *y, size_t n, double *max_abs) {
    double num = 0, den = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];
        if (isnan(x[i]) || isnan(y[i])) d = INFINITY;
        num += d * d;
        den += y[i] * y[i];
        if (fabs(d) > mx || isnan(d)) mx = fabs(d);
    }
    if (max_abs) *max_abs = mx;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

uint64_t qt_test_seed(void) {
    const char *s = getenv("QGEMM_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 20261123ull;
    printf("seed %llu (set QGEMM_TEST_SEED to replay)\n", (unsigned long long)seed);
    return seed;
}

void qt_in_child(const char *name, void (*fn)(void)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        qt_passed = qt_failed = 0;
        fn();
        printf("  [%s] child checks: %d ok, %d bad\n", name, qt_passed, qt_failed);
        fflush(stdout);
        exit(qt_failed ? 1 : 0); /* exit(), not _exit(): LSan checks the child at exit */
    }
    int status = 0;
    QT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "%s: fork/wait", name);
    QT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child failed (status %d)", name,
             status);
}

int qt_contains(const char *s, const char *needle) { return s && strstr(s, needle) != NULL; }
