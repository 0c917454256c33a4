/* The autotuner: for one problem class (scheme, N, K, quantization) and a list of M values,
 * time every fitting catalog variant on the GPU and store the winners in a database. */
#ifndef QG_TUNE_H
#define QG_TUNE_H

#include "db.h"

typedef struct {
    int samples;          /* timing samples per candidate (median, p20, p80 over them) */
    double drop_factor;   /* drop a candidate once its median exceeds best * this */
    double budget_s;      /* seconds per problem (shape x M) before we stop timing more */
    double deadline_s;    /* run budget: CLOCK_MONOTONIC time (s) after which no problem
                            * starts (those are counted in `left`); 0: none */
    int retune;           /* re-time entries already in the database */
    const char *kernels;  /* comma-separated kernel id prefixes, or NULL (all): a problem with an
                           * entry times only the matching kernels and the entry's own kernel
                           * (first), so the winner is the faster of the two sets in one run;
                           * a problem without one is tuned over every kernel */
    int compile_threads;  /* 0 = number of CPUs */
    double max_rel_error; /* a candidate whose output is further from the reference is wrong */
    int verbose;
} qg_tune_options;

void qg_tune_options_init(qg_tune_options *o);

/* Does kernel `id` start with one of the comma-separated `prefixes`? (NULL: every kernel.) */
int qg_tune_kernel_selected(const char *prefixes, const char *id);

typedef struct {
    int candidates, wrong, dropped, failed; /* wrong: failed the reference check */
    int tuned, skipped;                     /* problems (M values) */
    int left;                               /* problems not started: deadline_s passed */
    double seconds;
} qg_tune_stats;

/* Progress line callback (a problem finished); `line` is human-readable. */
typedef void (*qg_tune_progress)(void *user, int done, int total, const char *line);

/*
 * Tune problem class `p` (p->m ignored) for each M in ms[0..nm). Winners go into `db` (not
 * saved: the caller saves). A wrong candidate is reported (progress line) and never stored.
 * `done_base`/`total` only feed the progress callback.
 */
qg_status qg_tune_shape(qg_context *ctx, qg_db *db, const qg_problem *p, const int64_t *ms, int nm,
                        const qg_tune_options *o, qg_tune_progress cb, void *user, int done_base,
                        int total, qg_tune_stats *stats);

#endif
