/*
 * A thin C interface to Google Benchmark (bench/gbench_shim.cc is its only C++): register a
 * benchmark as a C callback with int64 arguments, time it manually (GPU events) or with the
 * library's clock, attach counters, skip it with a message. Output formats (console, JSON via
 * --benchmark_out=FILE) and filters are Google Benchmark's own.
 *
 *   static void run(gb_state *st, void *user) {
 *       while (gb_keep_running(st)) gb_set_iteration_time(st, measure(gb_arg(st, 0)));
 *       gb_counter(st, "TFLOP/s", tflops, GB_COUNTER_DEFAULT);
 *   }
 *   gb_register("gemm/w4a16/qkv", run, NULL, (int64_t[]){16}, (const char *[]){"M"}, 1, &opts);
 *   return gb_main(argc, argv);
 */
#ifndef QG_GBENCH_H
#define QG_GBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* a benchmark::State */

typedef void (*gb_fn)(gb_state *st, void *user);

typedef struct {
    int manual_time;    /* 1: the callback reports each iteration's time (gb_set_iteration_time) */
    int64_t iterations; /* > 0: run exactly this many iterations (no calibration runs) */
    int repetitions;    /* > 0: repeat the benchmark this often (aggregates are reported) */
    int time_unit;      /* GB_UNIT_* for the console, default microseconds */
} gb_options;

enum { GB_UNIT_NS = 0, GB_UNIT_US = 1, GB_UNIT_MS = 2, GB_UNIT_S = 3 };

/* Counter flags (benchmark::Counter::Flags). */
enum {
    GB_COUNTER_DEFAULT = 0,  /* the value as given */
    GB_COUNTER_RATE = 1,     /* value / seconds */
    GB_COUNTER_AVG_ITERS = 8 /* value / iterations */
};

/*
 * Register a benchmark run by `fn(st, user)` with `nargs` arguments (each becomes part of the
 * name, "name/<arg_names[i]>:<args[i]>" when arg_names is not NULL). `opts` may be NULL.
 * Call before gb_main. Returns 0, or -1 if the name is NULL or nargs is negative.
 */
int gb_register(const char *name, gb_fn fn, void *user, const int64_t *args,
                const char *const *arg_names, int nargs, const gb_options *opts);

/* The loop condition: `while (gb_keep_running(st)) { ... }`. */
int gb_keep_running(gb_state *st);
/* Argument i (0 <= i < nargs) of this run; 0 for a negative i. */
int64_t gb_arg(const gb_state *st, int i);
/* Manual timing: the time of the current iteration, in seconds. */
void gb_set_iteration_time(gb_state *st, double seconds);
/* Stop and restart the library's timer (around set-up inside the loop). */
void gb_pause_timing(gb_state *st);
void gb_resume_timing(gb_state *st);
/* Set (or replace) a named counter of this run. */
void gb_counter(gb_state *st, const char *name, double value, int flags);
/* A short label shown beside the result (e.g. the kernel dispatch picked). */
void gb_set_label(gb_state *st, const char *label);
/* Skip this run with a message (reported as an error by Google Benchmark 1.7: it has no
 * separate "skipped" state); the callback should return without entering the loop. */
void gb_skip(gb_state *st, const char *message);
/* A key/value pair for the report's "context" block (device, versions). */
void gb_add_context(const char *key, const char *value);

/* Parse the benchmark flags (--benchmark_filter, --benchmark_out, ...), run what is registered,
 * shut down. Returns the process exit code: 0, or 1 on an unrecognized argument. */
int gb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
