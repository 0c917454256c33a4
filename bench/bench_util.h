/* Small helpers the C benches share: a monotonic clock in microseconds and the qsort
 * comparison for medians and percentiles. */
#ifndef QG_BENCH_UTIL_H
#define QG_BENCH_UTIL_H

#include <time.h>

static inline double qg_bench_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static inline int qg_bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
