#!/usr/bin/env bash
# Migration of tuning entries from before code hashes that an older build timed: if their
# kernels compile to the same code now, they are fresh. Builds COMMIT (the tree whose whole-
# catalog hash the entries carry) in a temporary worktree, has it compile the kernels those
# entries name and their helpers (`qgemm db restamp DB --kernels`) for the file's architecture,
# then `qgemm db restamp DB --images DIR` gives each entry timed by that build whose kernel's
# code is unchanged this build's code hash. Entries whose kernel changed stay stale (re-time
# them on the GPU: qgemm tune --stale DB). Needs NVRTC, no GPU.
# Usage: scripts/restamp_from_commit.sh COMMIT DB [path/to/qgemm]   (default build-release/qgemm)
set -euo pipefail
case "${1:-}" in -h|--help|"") sed -n '2,9p' "$0"; exit 0 ;; esac
commit=$1
db=$2
q=$(realpath "${3:-build-release/qgemm}")
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
cleanup() { git -C "$root" worktree remove --force "$tmp/src" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

git -C "$root" worktree add --detach "$tmp/src" "$commit" >/dev/null
cmake -S "$tmp/src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DQG_BUILD_BENCH=OFF >/dev/null
cmake --build "$tmp/build" -j "$(nproc)" --target qgemm_static >/dev/null
lib=$(find "$tmp/build" -maxdepth 1 -name 'libqgemm*.a' | head -1)

# The old build's side: its whole-catalog hash, its cuBLASLt policy, the cubins of the kernels.
cat > "$tmp/dump.c" <<'EOF'
#include "cublaslt.h"
#include "db.h"
#include "jit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void put(const char *dir, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(1); }
}
int main(int argc, char **argv) { /* dump DIR ARCH ID... */
    const char *h = qg_catalog_hash();
    put(argv[1], "catalog_hash", h, strlen(h));
#ifdef QG_CUBLASLT_POLICY
    put(argv[1], "library_policy", QG_CUBLASLT_POLICY, strlen(QG_CUBLASLT_POLICY));
#endif
    for (int i = 3; i < argc; i++) {
        const qg_variant *v = qg_catalog_find(argv[i]);
        if (!v || !v->family->source) continue; /* gone then, or a library call */
        void *img = NULL;
        size_t n = 0;
        char *log = NULL, name[200];
        if (qg_jit_compile(v, argv[2], &img, &n, &log, NULL) != QG_SUCCESS) {
            fprintf(stderr, "%s: %s\n", argv[i], qg_last_error(NULL));
            exit(1);
        }
        snprintf(name, sizeof name, "%s.cubin", argv[i]);
        put(argv[1], name, img, n);
        free(img);
        free(log);
    }
    printf("%s: catalog %s\n", argv[1], h);
    return 0;
}
EOF
cuda_inc=$(dirname "$(find /usr/local/cuda/include /usr/include -maxdepth 1 -name nvrtc.h 2>/dev/null | head -1)")
# src/ and its folders (flat before the folders came): the internal headers by file name.
cc -O1 -D_GNU_SOURCE $(find "$tmp/src/src" -type d -printf ' -I%p') -I"$tmp/src/include" -I"$tmp/build" -I"$cuda_inc" \
   "$tmp/dump.c" "$lib" -lcjson -lm -ldl -lpthread -o "$tmp/dump"
arch=$(python3 -c 'import json, sys
cc = json.load(open(sys.argv[1]))["metadata"]["compute_capability"]
print("sm_90a" if cc == "9.0" else "sm_" + cc.replace(".", ""))' "$db")
mkdir "$tmp/images"
# shellcheck disable=SC2046  # one kernel id per word
"$tmp/dump" "$tmp/images" "$arch" $("$q" db restamp "$db" --kernels)
"$q" db restamp "$db" --images "$tmp/images"
