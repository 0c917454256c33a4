/* Data files found relative to the loaded library: no install path is compiled in. */
#include "data_dir.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Directory of the object this function is in. The main program's link map has an empty name
 * (dladdr would give argv[0], which may be a bare name found on PATH): use /proc/self/exe. */
static int object_dir(char *out, size_t len) {
    Dl_info info;
    struct link_map *map = NULL;
    const char *file = NULL;
    if (dladdr1((void *)object_dir, &info, (void **)&map, RTLD_DL_LINKMAP) && map && map->l_name &&
        map->l_name[0])
        file = map->l_name;
    else file = "/proc/self/exe";
    char real[PATH_MAX];
    if (!realpath(file, real)) return 0;
    char *slash = strrchr(real, '/');
    if (!slash) return 0;
    *slash = 0;
    return snprintf(out, len, "%s", real[0] ? real : "/") < (int)len;
}

int qg_installed_db_dir(char *out, size_t out_len) {
    char dir[PATH_MAX];
    if (!object_dir(dir, sizeof dir)) return 0;
    static const char *const ups[] = {"", "/..", "/../.."};
    for (int i = 0; i < 3; i++) {
        char candidate[PATH_MAX + 32];
        snprintf(candidate, sizeof candidate, "%s%s/share/qgemm/tuning_db", dir, ups[i]);
        char real[PATH_MAX];
        if (realpath(candidate, real) && access(real, R_OK | X_OK) == 0)
            return snprintf(out, out_len, "%s", real) < (int)out_len;
    }
    return 0;
}
