/*
 * The JIT disk cache on unusual paths (issue 15): a FIFO where a cache file should be is a miss
 * at once (it blocked qg_prepare forever), and a cache directory too long for the context's
 * buffer (so possibly cut short: another directory) is refused rather than used.
 */
#include "testutil.h"

#include "jit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_disk_cache_paths: blocked on a FIFO\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(2);
}

int main(void) {
    char dir[] = "/tmp/qgemm-test-dcache-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const uint64_t key = 0x0123456789abcdefull;
    const char image[] = "a kernel image";
    void *got = NULL;
    size_t size = 0;
    /* control: a write then a read */
    QT_OK(qg_disk_cache_write(dir, "sm_90a", key, image, sizeof image));
    QT_OK(qg_disk_cache_read(dir, "sm_90a", key, &got, &size));
    QT_CHECK(got && size == sizeof image && !memcmp(got, image, size), "round trip");
    free(got);

    /* a FIFO at the cache file's name: a miss that names it, without waiting for a writer */
    char path[1200];
    qg_disk_cache_path(dir, "sm_90a", key + 1, path, sizeof path);
    QT_CHECK(mkfifo(path, 0644) == 0, "mkfifo %s", path);
    signal(SIGALRM, on_alarm);
    alarm(20);
    QT_STATUS(qg_disk_cache_read(dir, "sm_90a", key + 1, &got, &size), QG_ERR_NOT_FOUND);
    alarm(0);
    QT_CHECK(qt_contains(qg_last_error(NULL), "not a regular file"), "%s", qg_last_error(NULL));
    struct stat st;
    QT_CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is not deleted");
    QT_OK(qg_disk_cache_write(dir, "sm_90a", key + 1, image, sizeof image)); /* renamed over it */
    QT_OK(qg_disk_cache_read(dir, "sm_90a", key + 1, &got, &size));
    free(got);

    /* a directory of 1023 characters or more may be a cut $QGEMM_CACHE_DIR: refused */
    char longdir[1100];
    const int n = snprintf(longdir, sizeof longdir, "%s", dir);
    for (int i = n; i + 1 < 1023; i += 2) longdir[i] = '/', longdir[i + 1] = 'd';
    longdir[1023] = 0; /* dir/d/d/d/... */
    QT_STATUS(qg_disk_cache_write(longdir, "sm_90a", key, image, sizeof image),
              QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(qt_contains(qg_last_error(NULL), "QGEMM_CACHE_DIR"), "%s", qg_last_error(NULL));
    QT_STATUS(qg_disk_cache_read(longdir, "sm_90a", key, &got, &size), QG_ERR_NOT_FOUND);
    longdir[n + 2] = 0;
    QT_CHECK(access(longdir, F_OK) != 0, "no directory made from the cut path");

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return qt_finish("test_disk_cache_paths");
}
