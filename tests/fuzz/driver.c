/*
 * Runs a fuzz target (LLVMFuzzerTestOneInput) without libFuzzer:
 *   driver FILE|DIR...                 each input once (the seed corpus and the regression
 *                                      inputs: a ctest in every build, sanitizers included)
 *   driver --mutate SECONDS DIR...     then a deterministic random-mutation fuzzer over them
 *                                      for SECONDS (seed $QG_FUZZ_SEED, default 1): bit flips,
 *                                      byte and chunk copies, interesting numbers, splices;
 *                                      inputs that crash are left to the sanitizer's report,
 *                                      the last one tried is in ./fuzz-last-input
 * Used where clang's libFuzzer is not available; tests/fuzz/run.sh prefers libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t *data;
    size_t size;
} blob;

static blob *corpus;
static int ncorpus, capcorpus;

static void add_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    blob b = {NULL, 0};
    size_t cap = 0;
    for (int c; (c = fgetc(f)) != EOF;) {
        if (b.size == cap) b.data = realloc(b.data, cap = cap ? 2 * cap : 4096);
        b.data[b.size++] = (uint8_t)c;
    }
    fclose(f);
    if (ncorpus == capcorpus)
        corpus = realloc(corpus,
                         sizeof *corpus * (size_t)(capcorpus = capcorpus ? 2 * capcorpus : 64));
    corpus[ncorpus++] = b;
}

static void add_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        add_path(sub);
    }
    if (d) closedir(d);
}

static uint64_t rng = 1;
static uint64_t next(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One mutation of buf[*n] (capacity cap) in place. */
static void mutate(uint8_t *buf, size_t *n, size_t cap) {
    static const char *const tokens[] = {"0",       "-1",   "1e19",       "1e999",
                                         "-0",      "1.5",  "2147483648", "9223372036854775807",
                                         "NaN",     "null", "\"\"",       "[]",
                                         "{}",      ",",    ":",          "\"",
                                         "\\u0000", "true", "4294967297", "\n"};
    const size_t at = *n ? next() % *n : 0;
    switch (next() % 6) {
    case 0:
        if (*n) buf[at] ^= (uint8_t)(1u << (next() % 8));
        break;
    case 1:
        if (*n) buf[at] = (uint8_t)next();
        break;
    case 2:
        if (*n > 1) *n -= 1 + next() % (*n < 16 ? *n - 1 : 16);
        break; /* truncate */
    case 3: {  /* insert a token */
        const char *t = tokens[next() % (sizeof tokens / sizeof tokens[0])];
        const size_t l = strlen(t);
        if (*n + l > cap) break;
        memmove(buf + at + l, buf + at, *n - at);
        memcpy(buf + at, t, l);
        *n += l;
        break;
    }
    case 4: { /* copy a chunk from elsewhere in the input */
        if (*n < 2) break;
        const size_t from = next() % *n, len = 1 + next() % (*n - from < 64 ? *n - from : 64);
        if (at + len <= *n) memmove(buf + at, buf + from, len);
        break;
    }
    default: { /* splice the head of another corpus entry */
        const blob *o = &corpus[next() % (uint64_t)ncorpus];
        const size_t len = o->size < cap - at ? o->size : cap - at;
        const size_t from = o->size ? next() % (o->size) : 0;
        const size_t l = len < o->size - from ? len : o->size - from;
        memcpy(buf + at, o->data + from, l);
        if (at + l > *n) *n = at + l;
        break;
    }
    }
}

int main(int argc, char **argv) {
    double seconds = 0;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--mutate")) seconds = atof(argv[2]), first = 3;
    for (int i = first; i < argc; i++) add_path(argv[i]);
    if (!ncorpus) {
        fprintf(stderr, "fuzz driver: no inputs in the given paths\n");
        return 2;
    }
    for (int i = 0; i < ncorpus; i++) LLVMFuzzerTestOneInput(corpus[i].data, corpus[i].size);
    printf("fuzz driver: %d inputs replayed\n", ncorpus);
    if (seconds <= 0) return 0;
    const char *seed = getenv("QG_FUZZ_SEED");
    rng = seed ? strtoull(seed, NULL, 10) : 1;
    const size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    const time_t end = time(NULL) + (time_t)seconds;
    long runs = 0;
    while (time(NULL) < end) {
        for (int batch = 0; batch < 64; batch++, runs++) {
            const blob *b = &corpus[next() % (uint64_t)ncorpus];
            size_t n = b->size < cap ? b->size : cap;
            memcpy(buf, b->data, n);
            for (int m = 1 + (int)(next() % 8); m > 0; m--) mutate(buf, &n, cap);
            FILE *f = fopen("fuzz-last-input", "wb"); /* what to replay after a crash */
            if (f) {
                fwrite(buf, 1, n, f);
                fclose(f);
            }
            LLVMFuzzerTestOneInput(buf, n);
        }
    }
    printf("fuzz driver: %ld mutated inputs in %.0f s, no failure\n", runs, seconds);
    free(buf);
    return 0;
}
