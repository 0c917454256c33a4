/* The database side of `qgemm tune --devices`: worker processes that each open the file once and
 * save after every shape (as tuner/cli_tune.c's run_worker does) while the others do the same.
 * Saves wait for the file lock; a worker killed mid-run loses only the shape it had not saved;
 * a process killed while it holds the lock does not block the others (flock dies with it).
 * The fake driver cannot produce tuned entries, so tests/test_tune_devices.sh covers the CLI and
 * this covers what its workers write. */
#include "testutil.h"

#include "db.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 4, SHAPES_EACH = 4, MS = 3, DIES = 2, DIES_AFTER = 2 };
static const int64_t m_values[MS] = {1, 16, 128};

static qg_device_info fake_gpu(void) {
    qg_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "Fake GPU");
    d.cc_major = 9, d.cc_minor = 0, d.sm_count = 132, d.driver_version = 13000;
    return d;
}

/* Shape s of worker w: N tells them apart, so every (worker, shape, M) is one entry. */
static int64_t shape_n(int w, int s) { return 256 * (1 + w * SHAPES_EACH + s); }

static qg_db_entry tuned(int w, int s, int64_t m) {
    qg_db_entry e;
    memset(&e, 0, sizeof e);
    qg_problem_init(&e.key);
    e.key.scheme = QG_SCHEME_W8A8_INT8, e.key.n = shape_n(w, s), e.key.k = 512, e.key.m = m;
    e.key.group_size = 0;
    e.m_bucket = m;
    snprintf(e.kernel, sizeof e.kernel, "k_w%d_s%d", w, s);
    e.median_us = 1.0 + (double)m;
    qg_now_iso8601(e.tuned_at, sizeof e.tuned_at);
    return e;
}

/* A worker: one database in memory for the whole run, saved after each shape. Worker DIES is
 * killed (SIGKILL: no handler, no cleanup) after saving DIES_AFTER shapes. */
static void worker(const char *path, int w) {
    qg_device_info d = fake_gpu();
    qg_db *db;
    if (qg_db_open(&db, path, &d) != QG_SUCCESS) _exit(2);
    for (int s = 0; s < SHAPES_EACH; s++) {
        if (w == DIES && s == DIES_AFTER) {
            qg_db_entry e = tuned(w, s, m_values[0]); /* tuned in memory, never saved */
            qg_db_put(db, &e);
            raise(SIGKILL);
        }
        for (int i = 0; i < MS; i++) {
            qg_db_entry e = tuned(w, s, m_values[i]);
            if (qg_db_put(db, &e) != QG_SUCCESS) _exit(3);
        }
        if (qg_db_save(db, NULL) != QG_SUCCESS) _exit(4);
    }
    qg_db_close(db);
    _exit(0);
}

static int lock_file(const char *path) {
    char lp[600];
    snprintf(lp, sizeof lp, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The file's bytes (NULL if absent), to see whether anyone wrote it. */
static char *contents(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 20);
    if (b && fread(b, 1, (1 << 20) - 1, f) == 0) b[0] = 0;
    fclose(f);
    return b;
}

static void workers_share_one_file(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/tune.json", dir);
    /* An entry from an earlier run, which every save must carry over. */
    qg_device_info d = fake_gpu();
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d));
    qg_db_entry old = tuned(99, 0, 1);
    snprintf(old.tuned_at, sizeof old.tuned_at, "2026-01-01T00:00:00Z");
    QT_OK(qg_db_put(db, &old));
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    /* Hold the lock while the workers start: none may write the file until it is released. */
    int held = lock_file(path);
    QT_CHECK(held >= 0, "took the lock");
    char *before = contents(path);
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        fflush(stdout);
        pids[w] = fork();
        if (pids[w] == 0) worker(path, w);
    }
    usleep(300 * 1000);
    char *during = contents(path);
    QT_CHECK(before && during && !strcmp(before, during),
             "nothing written while another process holds the lock");
    free(before), free(during);
    int any_done = 0;
    for (int w = 0; w < WORKERS; w++) any_done |= waitpid(pids[w], NULL, WNOHANG) != 0;
    QT_CHECK(!any_done, "every worker waits for the lock (none finished while it was held)");
    flock(held, LOCK_UN);
    close(held);

    for (int w = 0; w < WORKERS; w++) {
        int st = 0;
        QT_CHECK(waitpid(pids[w], &st, 0) == pids[w], "wait for worker %d", w);
        if (w == DIES)
            QT_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "worker %d was killed", w);
        else
            QT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d finished (status %d)", w, st);
    }

    QT_OK(qg_db_open(&db, path, &d));
    if (!db) return;
    int want = 1; /* the earlier entry */
    for (int w = 0; w < WORKERS; w++)
        for (int s = 0; s < SHAPES_EACH; s++)
            for (int i = 0; i < MS; i++) {
                qg_db_entry e = tuned(w, s, m_values[i]);
                const qg_db_entry *got = qg_db_find(db, &e.key, m_values[i]);
                const int saved = w != DIES || s < DIES_AFTER;
                want += saved;
                if (saved)
                    QT_CHECK(got && !strcmp(got->kernel, e.kernel),
                             "worker %d shape %d M=%lld kept", w, s, (long long)m_values[i]);
                else
                    QT_CHECK(!got, "worker %d shape %d M=%lld was never saved, yet is there", w, s,
                             (long long)m_values[i]);
            }
    const qg_db_entry *o = qg_db_find(db, &old.key, 1);
    QT_CHECK(o && !strcmp(o->tuned_at, old.tuned_at), "the earlier run's entry is kept as it was");
    /* qg_db_put replaces the entry of the same key: the count shows there are no duplicates. */
    QT_CHECK(qg_db_size(db) == want, "%d entries, want %d: each finished problem exactly once",
             qg_db_size(db), want);
    qg_db_close(db);
    char tmp_prefix[600];
    snprintf(tmp_prefix, sizeof tmp_prefix, "%s.tmp.%d", path, (int)pids[DIES]);
    QT_CHECK(access(tmp_prefix, F_OK) != 0, "the killed worker left no temporary file");
}

/* A process killed while it holds the lock: the kernel drops its flock, the next save goes on. */
static void holder_killed(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/held.json", dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (lock_file(path) < 0) _exit(2);
        raise(SIGKILL);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    QT_CHECK(WIFSIGNALED(st), "the lock holder was killed");
    pid = fork();
    if (pid == 0) { /* a save that would hang forever if the lock were still held */
        alarm(20);
        qg_device_info d = fake_gpu();
        qg_db *db;
        qg_db_entry e = tuned(0, 0, 1);
        if (qg_db_open(&db, path, &d) != QG_SUCCESS || qg_db_put(db, &e) != QG_SUCCESS ||
            qg_db_save(db, NULL) != QG_SUCCESS)
            _exit(3);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    QT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
             "a save after the holder died went through "
             "(status %d; SIGALRM = it hung on the lock)",
             st);
}

int main(void) {
    char dir[] = "/tmp/qg_test_tune_workers_XXXXXX";
    QT_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    workers_share_one_file(dir);
    holder_killed(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return qt_finish("test_tune_workers");
}
