/*
 * JIT disk cache and runtime compilers, without a GPU: cache file round trip, corruption
 * (truncation, flipped bytes, wrong key, bad magic) detected, deleted and reported as a miss,
 * racing writer processes leaving one valid file while a reader never sees a partial one, real
 * NVRTC compiles (cubin for sm_80/sm_90a, headers found, errors reported with a log), the
 * cache key's sensitivity to arch, options, compiler version and source, and hiprtc for gfx90a.
 */
#include "backend.h"
#include "jit.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[512];

static void make_root(void) {
    snprintf(root, sizeof root, "%s/jitcache-XXXXXX", QG_TEST_BINARY_DIR);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* rm -rf of a directory two levels deep (root/<arch>/<files>). */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static unsigned char *random_bytes(qt_rng *r, size_t n) {
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)qt_next(r);
    return b;
}

static void flip_byte(const char *path, long offset) {
    int fd = open(path, O_RDWR);
    unsigned char c = 0;
    if (fd < 0 || pread(fd, &c, 1, offset) != 1) {
        QT_CHECK(0, "cannot open %s to corrupt it", path);
        if (fd >= 0) close(fd);
        return;
    }
    c ^= 0x20;
    QT_CHECK(pwrite(fd, &c, 1, offset) == 1, "corrupt byte written");
    close(fd);
}

static void test_round_trip(qt_rng *r) {
    const size_t n = 10007;
    unsigned char *img = random_bytes(r, n);
    const uint64_t key = 0x0123456789abcdefull;
    char path[1200];
    qg_disk_cache_path(root, "sm_90a", key, path, sizeof path);
    QT_CHECK(strstr(path, "/sm_90a/0123456789abcdef.cubin") != NULL, "cache path layout: %s", path);
    qg_disk_cache_path(root, "gfx90a", key, path, sizeof path);
    QT_CHECK(strstr(path, "/gfx90a/0123456789abcdef.hsaco") != NULL, "hip cache path: %s", path);

    void *back = NULL;
    size_t size = 0;
    QT_STATUS(qg_disk_cache_read(root, "sm_90a", key, &back, &size), QG_ERR_NOT_FOUND);
    QT_CHECK(back == NULL && size == 0, "a miss returns nothing");

    QT_OK(qg_disk_cache_write(root, "sm_90a", key, img, n));
    qg_disk_cache_path(root, "sm_90a", key, path, sizeof path);
    struct stat st;
    QT_CHECK(stat(path, &st) == 0 && st.st_size == (off_t)(n + 32), "file is header + payload");
    QT_OK(qg_disk_cache_read(root, "sm_90a", key, &back, &size));
    QT_CHECK(size == n && back && memcmp(back, img, n) == 0, "payload round trip");
    free(back);
    /* Another key / arch is another file. */
    QT_STATUS(qg_disk_cache_read(root, "sm_90a", key + 1, &back, &size), QG_ERR_NOT_FOUND);
    QT_STATUS(qg_disk_cache_read(root, "sm_80", key, &back, &size), QG_ERR_NOT_FOUND);
    /* Overwrite with a new image: the reader gets the new one. */
    img[0] ^= 0xff;
    QT_OK(qg_disk_cache_write(root, "sm_90a", key, img, n));
    QT_OK(qg_disk_cache_read(root, "sm_90a", key, &back, &size));
    QT_CHECK(size == n && back && memcmp(back, img, n) == 0, "rewritten payload");
    free(back);
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/sm_90a", root);
    QT_CHECK(count_entries(sub) == 1, "no temporary files left (%d entries)", count_entries(sub));
    QT_STATUS(qg_disk_cache_write(root, "sm_90a", key, img, 0), QG_ERR_INVALID_ARGUMENT);
    QT_STATUS(qg_disk_cache_read(NULL, "sm_90a", key, &back, &size), QG_ERR_NULL_POINTER);
    free(img);
}

/* Write a good file, damage it with `damage`, and check the read is a miss that deletes it. */
static void expect_detected(qt_rng *r, const char *what, void (*damage)(const char *path, size_t n)) {
    const size_t n = 4096 + (size_t)(qt_next(r) % 4096);
    unsigned char *img = random_bytes(r, n);
    const uint64_t key = qt_next(r);
    char path[1200];
    qg_disk_cache_path(root, "sm_80", key, path, sizeof path);
    QT_OK(qg_disk_cache_write(root, "sm_80", key, img, n));
    damage(path, n);
    void *back = (void *)1;
    size_t size = 1;
    QT_STATUS(qg_disk_cache_read(root, "sm_80", key, &back, &size), QG_ERR_NOT_FOUND);
    QT_CHECK(back == NULL && size == 0, "%s: nothing returned", what);
    QT_CHECK(!file_exists(path), "%s: corrupt file deleted", what);
    QT_CHECK(strstr(qg_last_error(NULL), "corrupt") != NULL, "%s: message says corrupt: %s", what,
             qg_last_error(NULL));
    /* It is rebuilt like any miss. */
    QT_OK(qg_disk_cache_write(root, "sm_80", key, img, n));
    QT_OK(qg_disk_cache_read(root, "sm_80", key, &back, &size));
    QT_CHECK(size == n && memcmp(back, img, n) == 0, "%s: rewritten file reads back", what);
    free(back);
    free(img);
}

static void truncate_half(const char *p, size_t n) {
    QT_CHECK(truncate(p, (off_t)(32 + n / 2)) == 0, "truncate");
}
static void truncate_header(const char *p, size_t n) {
    (void)n;
    QT_CHECK(truncate(p, 20) == 0, "truncate");
}
static void truncate_empty(const char *p, size_t n) {
    (void)n;
    QT_CHECK(truncate(p, 0) == 0, "truncate");
}
static void truncate_one(const char *p, size_t n) {
    QT_CHECK(truncate(p, (off_t)(32 + n - 1)) == 0, "truncate");
}
static void flip_payload(const char *p, size_t n) { flip_byte(p, (long)(32 + n / 3)); }
static void flip_last(const char *p, size_t n) { flip_byte(p, (long)(32 + n - 1)); }
static void flip_magic(const char *p, size_t n) {
    (void)n;
    flip_byte(p, 1);
}
static void flip_key(const char *p, size_t n) {
    (void)n;
    flip_byte(p, 9);
}
static void flip_size(const char *p, size_t n) {
    (void)n;
    flip_byte(p, 16);
}
static void flip_checksum(const char *p, size_t n) {
    (void)n;
    flip_byte(p, 30);
}
static void append_byte(const char *p, size_t n) {
    (void)n;
    FILE *f = fopen(p, "ab");
    QT_CHECK(f && fputc(0, f) == 0 && fclose(f) == 0, "append");
}

static void test_corruption(qt_rng *r) {
    expect_detected(r, "truncated payload", truncate_half);
    expect_detected(r, "payload short by one byte", truncate_one);
    expect_detected(r, "truncated header", truncate_header);
    expect_detected(r, "empty file", truncate_empty);
    expect_detected(r, "flipped payload byte", flip_payload);
    expect_detected(r, "flipped last byte", flip_last);
    expect_detected(r, "bad magic", flip_magic);
    expect_detected(r, "wrong key in header", flip_key);
    expect_detected(r, "wrong size in header", flip_size);
    expect_detected(r, "wrong checksum", flip_checksum);
    expect_detected(r, "trailing garbage", append_byte);

    /* A valid file copied to another key's name is not that key's image. */
    unsigned char img[100];
    memset(img, 7, sizeof img);
    char a[1200], b[1200];
    qg_disk_cache_path(root, "sm_80", 1, a, sizeof a);
    qg_disk_cache_path(root, "sm_80", 2, b, sizeof b);
    QT_OK(qg_disk_cache_write(root, "sm_80", 1, img, sizeof img));
    QT_CHECK(link(a, b) == 0, "link");
    void *back = NULL;
    size_t size = 0;
    QT_STATUS(qg_disk_cache_read(root, "sm_80", 2, &back, &size), QG_ERR_NOT_FOUND);
    QT_CHECK(!file_exists(b) && file_exists(a), "renamed file deleted, original kept");
}

/*
 * Writers in separate processes race on one key (each with its own payload), while a reader
 * polls: once the file exists it must always read back complete and equal to one writer's
 * payload (a reader that saw a partial file would delete it and later miss).
 */
#define RACE_WRITERS 4
#define RACE_ROUNDS 40
#define RACE_BYTES 65536

static void fill_payload(unsigned char *b, int writer) {
    qt_rng r;
    qt_seed(&r, 1000 + (uint64_t)writer);
    for (int i = 0; i < RACE_BYTES; i++) b[i] = (unsigned char)qt_next(&r);
}

static int which_payload(const unsigned char *b, size_t n) {
    static unsigned char ref[RACE_BYTES];
    if (n != RACE_BYTES) return -1;
    for (int w = 0; w < RACE_WRITERS; w++) {
        fill_payload(ref, w);
        if (memcmp(ref, b, n) == 0) return w;
    }
    return -1;
}

static void test_race(void) {
    const uint64_t key = 0xfeedfacecafebeefull;
    pid_t pids[RACE_WRITERS + 1];
    for (int w = 0; w <= RACE_WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] < 0) {
            QT_CHECK(0, "fork failed");
            return;
        }
        if (pids[w] > 0) continue;
        if (w < RACE_WRITERS) { /* writer */
            static unsigned char b[RACE_BYTES];
            fill_payload(b, w);
            for (int i = 0; i < RACE_ROUNDS; i++)
                if (qg_disk_cache_write(root, "sm_89", key, b, sizeof b) != QG_SUCCESS) _exit(2);
            _exit(0);
        }
        /* reader */
        int seen = 0;
        const time_t end = time(NULL) + 10;
        for (int good = 0; good < 300 && time(NULL) < end;) {
            void *img = NULL;
            size_t n = 0;
            qg_status s = qg_disk_cache_read(root, "sm_89", key, &img, &n);
            if (s == QG_SUCCESS) {
                int ok = which_payload(img, n) >= 0;
                free(img);
                if (!ok) _exit(3);
                seen = 1;
                good++;
            } else if (seen) {
                _exit(4); /* the file vanished: someone found it corrupt */
            }
        }
        _exit(seen ? 0 : 5);
    }
    for (int w = 0; w <= RACE_WRITERS; w++) {
        int status = 0;
        waitpid(pids[w], &status, 0);
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
        QT_CHECK(code == 0,
                 "%s %d exited with %d (reader: 3 bad payload, 4 file vanished, 5 never saw it)",
                 w < RACE_WRITERS ? "writer" : "reader", w, code);
    }
    void *img = NULL;
    size_t n = 0;
    QT_OK(qg_disk_cache_read(root, "sm_89", key, &img, &n));
    QT_CHECK(img && which_payload(img, n) >= 0, "final file is one writer's complete payload");
    free(img);
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/sm_89", root);
    QT_CHECK(count_entries(sub) == 1, "one file, no temporaries left (%d entries)",
             count_entries(sub));
}

/* ---------------------------------------------------------------- compilers */

static int has_bytes(const void *hay, size_t n, const char *needle) {
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static const char *tiny_kernel =
    "#include \"qg_prelude.cuh\"\n"
    "extern \"C\" __global__ void qg_test_scale(const uint16_t *x, uint16_t *y, float s, int n) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n) y[i] = qg_f32_to_bf16(s * qg_bf16_to_f32(x[i]) * QG_FACTOR);\n"
    "}\n";

static void test_nvrtc(void) {
    char why[512];
    qg_status ls = qg_compiler_nvrtc.load(why, sizeof why);
    QT_CHECK(ls == QG_SUCCESS, "NVRTC must be available for the CPU tests: %s", why);
    if (ls != QG_SUCCESS) return;
    const int ver = qg_compiler_nvrtc.version();
    QT_CHECK(ver >= 11000, "NVRTC version %d", ver);
    printf("NVRTC %d.%d\n", ver / 1000, (ver % 1000) / 10);
    QT_CHECK(qg_compiler_for_arch("sm_90a") == &qg_compiler_nvrtc, "sm_* -> nvrtc");
    QT_CHECK(qg_compiler_for_arch("gfx90a") == &qg_compiler_hiprtc, "gfx* -> hiprtc");

    const char *archs[] = {"sm_80", "sm_90a"};
    for (int a = 0; a < 2; a++) {
        const char *opts[] = {"-DQG_FACTOR=2.0f"};
        void *img = NULL;
        size_t n = 0;
        char *log = NULL;
        QT_OK(qg_compiler_nvrtc.compile(tiny_kernel, "tiny.cu", archs[a], opts, 1, &img, &n, &log));
        QT_CHECK(img && n > 64 &&
                     memcmp(img,
                            "\x7f"
                            "ELF",
                            4) == 0,
                 "%s: a cubin (ELF), %zu bytes", archs[a], n);
        QT_CHECK(img && has_bytes(img, n, "qg_test_scale"), "%s: cubin holds the entry", archs[a]);
        QT_CHECK(log && strstr(log, "Used") && strstr(log, "spill stores"),
                 "%s: the log holds ptxas's resource report: %s", archs[a], log ? log : "(null)");
        free(log);
        free(img);
    }
    /* Missing -D: the source does not compile; the log says why. */
    void *img = NULL;
    size_t n = 0;
    char *log = NULL;
    QT_STATUS(qg_compiler_nvrtc.compile(tiny_kernel, "tiny.cu", "sm_80", NULL, 0, &img, &n, &log),
              QG_ERR_COMPILE);
    QT_CHECK(img == NULL && n == 0, "no image on failure");
    QT_CHECK(log && strstr(log, "QG_FACTOR"), "log names the undefined identifier: %s",
             log ? log : "(null)");
    QT_CHECK(strstr(qg_last_error(NULL), "tiny.cu") != NULL, "message names the program: %s",
             qg_last_error(NULL));
    free(log);
    /* PTX-only targets are refused (we want cubins the driver loads without JIT). */
    QT_STATUS(qg_compiler_nvrtc.compile(tiny_kernel, "tiny.cu", "compute_80", NULL, 0, &img, &n, NULL),
              QG_ERR_INVALID_ARGUMENT);
}

/* A stand-in family over the prelude (always embedded) for key tests without catalog entries. */
static const int fake_params[][QG_MAX_PARAMS] = {{64, 2}, {128, 2}};
static const qg_family fake_family = {.name = "fake",
                                      .source = "qg_prelude.cuh",
                                      .entry = "none",
                                      .num_params = 2,
                                      .param_names = {"bn", "sk"},
                                      .num_variants = 2,
                                      .variants = fake_params,
                                      .min_cc = 80};

static void test_keys(void) {
    qg_variant a = {.family = &fake_family,
                    .params = fake_params[0],
                    .index = -1,
                    .id = "fake.bn64.sk2"};
    qg_variant b = {.family = &fake_family,
                    .params = fake_params[1],
                    .index = -1,
                    .id = "fake.bn128.sk2"};
    const uint64_t k = qg_jit_key(&a, "sm_90a", 13000);
    QT_CHECK(k == qg_jit_key(&a, "sm_90a", 13000), "key is deterministic");
    QT_CHECK(k != qg_jit_key(&a, "sm_80", 13000), "key depends on arch");
    QT_CHECK(k != qg_jit_key(&a, "sm_90", 13000), "sm_90 and sm_90a differ");
    QT_CHECK(k != qg_jit_key(&b, "sm_90a", 13000), "key depends on options");
    QT_CHECK(k != qg_jit_key(&a, "sm_90a", 12080), "key depends on compiler version");
    qg_family other_src = fake_family;
    other_src.source = "dequant_int4.hip"; /* another embedded file */
    qg_variant c = a;
    c.family = &other_src;
    QT_CHECK(k != qg_jit_key(&c, "sm_90a", 13000), "key depends on the source");

    if (qg_catalog_count() == 0) {
        printf("catalog empty: key tests on a stand-in variant only\n");
        return;
    }
    const qg_variant *v = qg_catalog_get(0);
    QT_CHECK(qg_jit_key(v, "sm_80", 13000) != qg_jit_key(v, "sm_90a", 13000), "%s: arch in key",
             v->id);
    /* All catalog keys for one arch are distinct (no two variants share an image by accident). */
    int dup = 0;
    const int count = qg_catalog_count();
    uint64_t *keys = calloc((size_t)count, sizeof *keys);
    for (int i = 0; i < count; i++) {
        keys[i] = qg_jit_key(qg_catalog_get(i), "sm_90a", 13000);
        for (int j = 0; j < i; j++)
            if (keys[j] == keys[i] && qg_catalog_get(j)->family != qg_catalog_get(i)->family) dup++;
    }
    QT_CHECK(dup == 0, "%d colliding keys across families", dup);
    free(keys);
}

/* qg_jit_compile on the first catalog variant for an arch it targets (CUDA and HIP). */
static void test_catalog_compile(void) {
    int cuda_done = 0, hip_done = 0;
    char why[1024];
    const int have_hiprtc = qg_compiler_hiprtc.load(why, sizeof why) == QG_SUCCESS;
    if (!have_hiprtc) printf("hiprtc not available (%s): HIP compile skipped\n", why);
    for (int i = 0; i < qg_catalog_count() && !(cuda_done && hip_done); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const char *arch = v->family->hip           ? "gfx90a"
                           : v->family->needs_sm90a ? "sm_90a"
                           : v->family->min_cc > 80 ? "sm_89"
                                                    : "sm_80";
        int *done = v->family->hip ? &hip_done : &cuda_done;
        if (*done || !qg_family_targets_arch(v->family, arch) || (v->family->hip && !have_hiprtc))
            continue;
        void *img = NULL;
        size_t n = 0;
        char *log = NULL;
        double ms = 0;
        qg_status s = qg_jit_compile(v, arch, &img, &n, &log, &ms);
        QT_CHECK(s == QG_SUCCESS, "%s for %s: %s\n%s", v->id, arch, qg_last_error(NULL),
                 log ? log : "");
        QT_CHECK(img && n > 64 &&
                     memcmp(img,
                            "\x7f"
                            "ELF",
                            4) == 0,
                 "%s: ELF image (%zu bytes)", v->id, n);
        QT_CHECK(img && has_bytes(img, n, v->family->entry), "%s: image holds %s", v->id,
                 v->family->entry);
        printf("compiled %s for %s in %.0f ms (%zu bytes)\n", v->id, arch, ms, n);
        free(img);
        free(log);
        *done = 1;
    }
    if (!cuda_done) printf("no CUDA family in the catalog yet: catalog compile skipped\n");
    if (have_hiprtc) QT_CHECK(hip_done, "the HIP family compiled for gfx90a");
}

static const char *tiny_hip = "#include \"qg_hip_prelude.h\"\n"
                              "extern \"C\" __global__ void qg_test_hip(float *y, int n) {\n"
                              "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                              "    if (i < n) y[i] = y[i] * QG_FACTOR;\n"
                              "}\n";

static void test_hiprtc(void) {
    char why[1024];
    if (qg_compiler_hiprtc.load(why, sizeof why) != QG_SUCCESS) {
        printf("skipped hiprtc: %s\n", why);
        return;
    }
    const char *opts[] = {"-DQG_FACTOR=3.0f"};
    void *img = NULL;
    size_t n = 0;
    char *log = NULL;
    QT_OK(qg_compiler_hiprtc.compile(tiny_hip, "tiny.hip", "gfx90a", opts, 1, &img, &n, &log));
    QT_CHECK(img && n > 64 &&
                 memcmp(img,
                        "\x7f"
                        "ELF",
                        4) == 0,
             "gfx90a code object is ELF (%zu bytes)", n);
    QT_CHECK(img && has_bytes(img, n, "qg_test_hip"), "code object holds the entry");
    free(img);
    free(log);
    img = NULL;
    log = NULL;
    QT_STATUS(qg_compiler_hiprtc.compile(tiny_hip, "tiny.hip", "gfx90a", NULL, 0, &img, &n, &log),
              QG_ERR_COMPILE);
    QT_CHECK(log && strstr(log, "QG_FACTOR"), "hiprtc log names the error: %s", log ? log : "(null)");
    free(log);
    QT_STATUS(qg_compiler_hiprtc.compile(tiny_hip, "tiny.hip", "sm_80", NULL, 0, &img, &n, NULL),
              QG_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------- qg_jit_get on the fake driver */

#include <dlfcn.h>
#include <pthread.h>

enum {
    F_RETAIN,
    F_RELEASE,
    F_LOADED,
    F_UNLOADED,
    F_LAUNCHES,
    F_SMEM,
    F_CTX_ERRORS,
    F_ALLOCS,
    F_FREES
};

static void fake_stats(int out[9]) {
    memset(out, 0, 9 * sizeof *out);
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*fn)(int *) = h ? (void (*)(int *))dlsym(h, "fake_cuda_stats") : NULL;
    if (fn) fn(out);
    if (h) dlclose(h);
}

static qg_context *fake_ctx(const char *cache_dir) {
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    p.cache_dir = cache_dir;
    p.disable_disk_cache = cache_dir == NULL;
    qg_context *ctx = NULL;
    QT_OK(qg_context_create(&ctx, &p));
    return ctx;
}

/* Stand-in CUDA families over embedded files: one that compiles (the prelude alone), one whose
 * entry the module lacks, one that does not compile with NVRTC. */
static const int one_param[][QG_MAX_PARAMS] = {{1}, {2}};
static const qg_family fam_ok = {.name = "ok",
                                 .source = "qg_prelude.cuh",
                                 .entry = "present",
                                 .num_params = 1,
                                 .param_names = {"a"},
                                 .num_variants = 2,
                                 .variants = one_param,
                                 .min_cc = 80};
static const qg_family fam_no_entry = {.name = "noentry",
                                       .source = "qg_prelude.cuh",
                                       .entry = "missing_kernel",
                                       .num_params = 1,
                                       .param_names = {"b"},
                                       .num_variants = 1,
                                       .variants = one_param,
                                       .min_cc = 80};
static const qg_family fam_bad = {.name = "bad",
                                  .source = "dequant_int4.hip",
                                  .entry = "x",
                                  .num_params = 1,
                                  .param_names = {"c"},
                                  .num_variants = 1,
                                  .variants = one_param,
                                  .min_cc = 80};
static const qg_family fam_hip = {.name = "hiponly",
                                  .source = "dequant_int4.hip",
                                  .entry = "x",
                                  .hip = 1,
                                  .num_params = 1,
                                  .param_names = {"d"},
                                  .num_variants = 1,
                                  .variants = one_param};

typedef struct {
    qg_context *ctx;
    const qg_variant *v;
    qg_kernel *k;
    qg_status s;
} get_arg;

static void *get_thread(void *arg) {
    get_arg *g = arg;
    g->s = qg_jit_get(g->ctx, g->v, &g->k);
    return NULL;
}

/* The same variant from 8 threads at once: one build, one kernel object. */
static void concurrent_get(qg_context *ctx, const qg_variant *v, int expect_disk) {
    int before[9], after[9];
    fake_stats(before);
    get_arg g[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        g[i] = (get_arg){.ctx = ctx, .v = v};
        pthread_create(&t[i], NULL, get_thread, &g[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    int same = 1;
    for (int i = 0; i < 8; i++) same &= g[i].s == QG_SUCCESS && g[i].k == g[0].k;
    QT_CHECK(same, "%s: 8 threads got one kernel", v->id);
    fake_stats(after);
    QT_CHECK(after[F_LOADED] - before[F_LOADED] == 1, "%s: loaded once, not %d times", v->id,
             after[F_LOADED] - before[F_LOADED]);
    QT_CHECK(g[0].k && g[0].k->from_disk == expect_disk, "%s: from_disk %d", v->id,
             g[0].k ? g[0].k->from_disk : -1);
}

static void test_jit_get_fake(void) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/ctxcache", root);
    qg_variant ok1 = {.family = &fam_ok, .params = one_param[0], .index = -1, .id = "ok.a1"};
    qg_variant ok2 = {.family = &fam_ok, .params = one_param[1], .index = -1, .id = "ok.a2"};
    qg_variant no_entry = {.family = &fam_no_entry,
                           .params = one_param[0],
                           .index = -1,
                           .id = "noentry.b1"};
    qg_variant bad = {.family = &fam_bad, .params = one_param[0], .index = -1, .id = "bad.c1"};
    qg_variant hip = {.family = &fam_hip, .params = one_param[0], .index = -1, .id = "hiponly.d1"};

    qg_context *ctx = fake_ctx(dir);
    if (!ctx) return;
    QT_CHECK(strcmp(ctx->info.arch, "sm_90a") == 0, "fake device is sm_90a");
    qg_kernel *k = NULL, *k2 = NULL;
    QT_OK(qg_jit_get(ctx, &ok1, &k));
    QT_CHECK(k && k->fn && k->module && !k->from_disk && k->compile_ms > 0 && k->variant == &ok1,
             "cold get compiles");
    char path[1200];
    qg_disk_cache_path(dir, "sm_90a", qg_jit_key(&ok1, "sm_90a", ctx->info.compiler_version), path,
                       sizeof path);
    QT_CHECK(file_exists(path), "image written to %s", path);
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_SMEM] == 232448 - 1024, "dynamic smem raised to opt-in minus static (%d)",
             st[F_SMEM]);
    QT_OK(qg_jit_get(ctx, &ok1, &k2));
    QT_CHECK(k2 == k, "memory hit returns the same kernel");
    /* Launch with more than 48 KB of dynamic smem needs no attribute call now. */
    const unsigned grid[3] = {1, 1, 1}, block[3] = {128, 1, 1};
    QT_OK(ctx->ops->launch(ctx, k->fn, grid, block, 200 * 1024, NULL, NULL));
    concurrent_get(ctx, &ok2, 0);

    /* Failures leave nothing behind and are retried (and fail again) on the next call. */
    for (int i = 0; i < 2; i++) {
        QT_STATUS(qg_jit_get(ctx, &no_entry, &k2), QG_ERR_INTERNAL);
        QT_CHECK(strstr(qg_last_error(ctx), "missing_kernel") != NULL, "names the entry: %s",
                 qg_last_error(ctx));
        QT_STATUS(qg_jit_get(ctx, &bad, &k2), QG_ERR_COMPILE);
        QT_CHECK(strstr(qg_last_error(ctx), "bad.c1") &&
                     strstr(qg_last_error(ctx), "qg_hip_prelude.h"),
                 "compile error names the variant and the log's reason: %.300s", qg_last_error(ctx));
    }
    QT_STATUS(qg_jit_get(ctx, &hip, &k2), QG_ERR_UNSUPPORTED_ARCH);
    qg_context_destroy(ctx);
    fake_stats(st);
    QT_CHECK(st[F_LOADED] == st[F_UNLOADED], "every module unloaded (%d/%d)", st[F_LOADED],
             st[F_UNLOADED]);

    /* A second context (as a second process would) loads from disk, once, under contention. */
    ctx = fake_ctx(dir);
    if (!ctx) return;
    concurrent_get(ctx, &ok1, 1);
    QT_OK(qg_jit_get(ctx, &ok2, &k));
    QT_CHECK(k && k->from_disk && k->compile_ms == 0, "ok.a2 from disk too");
    qg_context_destroy(ctx);

    /* A damaged image is not loaded: it is rebuilt, and the file replaced by a valid one. */
    flip_byte(path, 200);
    ctx = fake_ctx(dir);
    QT_OK(qg_jit_get(ctx, &ok1, &k));
    QT_CHECK(k && !k->from_disk, "corrupt cache file -> recompiled");
    void *img = NULL;
    size_t n = 0;
    QT_OK(qg_disk_cache_read(dir, "sm_90a", qg_jit_key(&ok1, "sm_90a", ctx->info.compiler_version),
                             &img, &n));
    free(img);
    qg_context_destroy(ctx);

    /* Disk cache disabled: compiled, nothing written. */
    ctx = fake_ctx(NULL);
    remove_tree(dir);
    QT_OK(qg_jit_get(ctx, &ok1, &k));
    QT_CHECK(k && !k->from_disk && !file_exists(path), "no disk cache: compiled, not written");
    /* A catalog variant for this arch, if there is one, goes through the same path. */
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (!qg_family_targets_arch(v->family, "sm_90a")) continue;
        qg_status s = qg_jit_get(ctx, v, &k);
        QT_CHECK(s == QG_SUCCESS && k->variant == v, "catalog %s: %s", v->id, qg_last_error(ctx));
        break;
    }
    qg_context_destroy(ctx);
    fake_stats(st);
    QT_CHECK(st[F_LOADED] == st[F_UNLOADED] && st[F_RETAIN] == st[F_RELEASE] && st[F_CTX_ERRORS] == 0,
             "balanced: modules %d/%d, contexts %d/%d, context errors %d", st[F_LOADED],
             st[F_UNLOADED], st[F_RETAIN], st[F_RELEASE], st[F_CTX_ERRORS]);
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    make_root();
    test_round_trip(&r);
    test_corruption(&r);
    test_race();
    test_nvrtc();
    test_keys();
    test_catalog_compile();
    test_hiprtc();
    test_jit_get_fake();
    remove_tree(root);
    return qt_finish("test_jit_cache");
}
