/* Minimal test helpers: checks that count and report, seeded random data, error norms. */
#ifndef QG_TESTUTIL_H
#define QG_TESTUTIL_H

#include "qgemm.h"

#include <stdint.h>
#include <stdio.h>

extern int qt_passed, qt_failed;

/* Record one check; prints the failure with file:line. Returns cond. */
int qt_check(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define QT_CHECK(cond, ...) qt_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* A call must return `expected`; prints the library's message otherwise. */
#define QT_STATUS(call, expected)                                                       \
    do {                                                                                \
        qg_status qt_s_ = (call);                                                       \
        QT_CHECK(qt_s_ == (expected), "%s returned %s, expected %s (%s)", #call,        \
                 qg_status_name(qt_s_), qg_status_name(expected), qg_last_error(NULL)); \
    } while (0)
#define QT_OK(call) QT_STATUS(call, QG_SUCCESS)

/* Run fn in a forked child (for tests that change process-wide state: environment, loaded
 * libraries); the child counts its own checks and its failures fail one check here. */
void qt_in_child(const char *name, void (*fn)(void));
/* strstr that accepts a NULL haystack (no match). */
int qt_contains(const char *s, const char *needle);

/* Print "N passed, N failed" and return the process exit code. */
int qt_finish(const char *name);

/* splitmix64-based generator: deterministic per seed. */
typedef struct {
    uint64_t s;
} qt_rng;
void qt_seed(qt_rng *r, uint64_t seed);
uint64_t qt_next(qt_rng *r);
float qt_uniform(qt_rng *r, float lo, float hi); /* [lo, hi) */
float qt_normal(qt_rng *r);                      /* N(0,1) */
void qt_fill_normal(qt_rng *r, float *x, size_t n, float scale);
void qt_fill_bf16(qt_rng *r, uint16_t *x, size_t n, float scale); /* normal, rounded to bf16 */

/* ||x - y|| / ||y|| (and max abs error) over n doubles. */
double qt_rel_l2(const double *x, const double *y, size_t n, double *max_abs);

/* Seed from $QGEMM_TEST_SEED or a fixed default; printed so a failure can be replayed. */
uint64_t qt_test_seed(void);

#endif
