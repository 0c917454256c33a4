/*
 * JIT disk cache: one file per compiled image, <dir>/<arch>/<16-hex key>.<cubin|hsaco>.
 *
 * File = 32-byte header + payload. Header (little-endian):
 *   0  "QGJC"          magic
 *   4  u32             header version (1)
 *   8  u64             cache key (must equal the key in the file name)
 *   16 u64             payload size in bytes
 *   24 u64             XXH64 (seed 0) of the payload
 * Writers create a unique temporary file in the same directory, fsync it and rename it over the
 * final name, so a reader sees either no file or a complete one; when two processes race, both
 * renames succeed with identical content and the last one stays. A reader that finds anything
 * inconsistent deletes the file and reports a miss, so the image is rebuilt, never loaded.
 */
#include "backend.h"
#include "jit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define HEADER_BYTES 32
#define HEADER_VERSION 1u
#define MAX_PAYLOAD ((uint64_t)1 << 30) /* no kernel image is near 1 GiB: larger = corrupt */

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The context keeps the directory in cache_dir[1024]: one that fills it may have been cut
 * short (a long $QGEMM_CACHE_DIR), and a cut path is another directory, so it is refused. */
static qg_status check_dir(const char *dir) {
    const size_t max = sizeof(((qg_context *)0)->cache_dir) - 2;
    QG_RETURN_IF(NULL, strlen(dir) > max, QG_ERR_INVALID_ARGUMENT,
                 "JIT cache directory path is %zu characters or more; at most %zu are supported "
                 "(set a shorter QGEMM_CACHE_DIR)",
                 strlen(dir), max);
    return QG_SUCCESS;
}

void qg_disk_cache_path(const char *dir, const char *arch, uint64_t key, char *out, size_t out_len) {
    snprintf(out, out_len, "%s/%s/%016llx.%s", dir, arch, (unsigned long long)key,
             qg_compiler_for_arch(arch)->image_ext);
}

/* read() all of n bytes; returns bytes read (< n at end of file) or -1. */
static ssize_t read_full(int fd, void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

/* A file that is not what its name promises: delete it so the next lookup rebuilds it. */
static qg_status corrupt(const char *path, int fd, void *buf, const char *what) {
    free(buf);
    if (fd >= 0) close(fd);
    unlink(path);
    return QG_ERROR(NULL, QG_ERR_NOT_FOUND, "corrupt JIT cache file %s (%s): deleted, will rebuild",
                    path, what);
}

qg_status qg_disk_cache_read(const char *dir, const char *arch, uint64_t key, void **image,
                             size_t *size) {
    QG_RETURN_IF(NULL, !dir || !arch || !image || !size, QG_ERR_NULL_POINTER,
                 "disk cache read: NULL argument");
    *image = NULL;
    *size = 0;
    if (check_dir(dir) != QG_SUCCESS) return QG_ERR_NOT_FOUND; /* a miss, with the message */
    char path[1200];
    qg_disk_cache_path(dir, arch, key, path, sizeof path);
    /* O_NONBLOCK: a FIFO at this name must not block the open until some writer comes */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return QG_ERR_NOT_FOUND; /* the ordinary miss: no message */
        return QG_ERROR(NULL, QG_ERR_NOT_FOUND, "cannot open JIT cache file %s: %s", path,
                        strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return QG_ERROR(NULL, QG_ERR_NOT_FOUND, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) { /* not ours to delete; the next write renames over it */
        close(fd);
        return QG_ERROR(NULL, QG_ERR_NOT_FOUND, "JIT cache file %s is not a regular file: ignored",
                        path);
    }

    unsigned char h[HEADER_BYTES];
    if (read_full(fd, h, sizeof h) != (ssize_t)sizeof h)
        return corrupt(path, fd, NULL, "short header");
    if (memcmp(h, "QGJC", 4) != 0) return corrupt(path, fd, NULL, "bad magic");
    if (get_u32(h + 4) != HEADER_VERSION) return corrupt(path, fd, NULL, "unknown header version");
    if (get_u64(h + 8) != key) return corrupt(path, fd, NULL, "key does not match the file name");
    const uint64_t n = get_u64(h + 16);
    if (n == 0 || n > MAX_PAYLOAD) return corrupt(path, fd, NULL, "bad payload size");
    if ((uint64_t)st.st_size != HEADER_BYTES + n)
        return corrupt(path, fd, NULL, "file size does not match the header (truncated?)");

    void *buf = malloc((size_t)n);
    if (!buf) {
        close(fd);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for a %llu-byte cache entry",
                        (unsigned long long)n);
    }
    if (read_full(fd, buf, (size_t)n) != (ssize_t)n)
        return corrupt(path, fd, buf, "truncated payload");
    if (XXH64(buf, (size_t)n, 0) != get_u64(h + 24))
        return corrupt(path, fd, buf, "checksum mismatch");
    close(fd);
    *image = buf;
    *size = (size_t)n;
    return QG_SUCCESS;
}

qg_status qg_disk_cache_write(const char *dir, const char *arch, uint64_t key, const void *image,
                              size_t size) {
    QG_RETURN_IF(NULL, !dir || !arch || !image, QG_ERR_NULL_POINTER,
                 "disk cache write: NULL argument");
    QG_RETURN_IF(NULL, size == 0 || (uint64_t)size > MAX_PAYLOAD, QG_ERR_INVALID_ARGUMENT,
                 "disk cache write: bad image size %zu", size);
    QG_CHECK(check_dir(dir));
    char sub[1100], path[1200], tmp[1300];
    snprintf(sub, sizeof sub, "%s/%s", dir, arch);
    QG_RETURN_IF(NULL, qg_mkdirs(sub) != 0, QG_ERR_IO, "cannot create cache directory %s: %s", sub,
                 strerror(errno));
    qg_disk_cache_path(dir, arch, key, path, sizeof path);
    /* Unique per writer (mkstemp), in the same directory so rename() is atomic. */
    snprintf(tmp, sizeof tmp, "%s/.%016llx.XXXXXX", sub, (unsigned long long)key);
    int fd = mkstemp(tmp);
    QG_RETURN_IF(NULL, fd < 0, QG_ERR_IO, "cannot create a temporary file in %s: %s", sub,
                 strerror(errno));

    unsigned char h[HEADER_BYTES];
    memcpy(h, "QGJC", 4);
    put_u32(h + 4, HEADER_VERSION);
    put_u64(h + 8, key);
    put_u64(h + 16, (uint64_t)size);
    put_u64(h + 24, XXH64(image, size, 0));
    int ok = write_full(fd, h, sizeof h) == 0 && write_full(fd, image, size) == 0 &&
             fchmod(fd, 0644) == 0 && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return QG_ERROR(NULL, QG_ERR_IO, "cannot write cache file %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return QG_ERROR(NULL, QG_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    /* Make the rename itself durable; failure here loses nothing but durability. */
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return QG_SUCCESS;
}
