/*
 * Code hashes of compiled images and of catalog variants (code_hash.h).
 *
 * What two compiles of one source differ in, found by comparing NVRTC cubins: nothing when
 * source edits leave the code alone (comments, moved lines, another program name: the cubins
 * are byte-identical, there is no debug information), but the .note.nv.tkinfo section carries
 * the ptxas version string and its command line (`-v -arch sm_90a`), so other ptxas options or
 * another build of the same compiler change the file's bytes and offsets without changing the
 * code. The hash therefore walks the section headers and hashes each remaining section's type,
 * flags, size and contents in order: code (.text.*), kernel attributes (.nv.info*: registers,
 * parameter layout, barriers), constant banks, shared memory sizes, relocations, call graph.
 */
#include "code_hash.h"

#include "backend.h"
#include "jit.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Sections that do not determine behaviour: compiler notes, debug information, names. */
static int ignored_section(const Elf64_Shdr *sh, const char *name) {
    return sh->sh_type == SHT_NULL || sh->sh_type == SHT_NOTE || sh->sh_type == SHT_STRTAB ||
           sh->sh_type == SHT_SYMTAB || strstr(name, ".debug") != NULL;
}

/* Copy section i's header (the image may be unaligned); 0 when it lies outside the image. */
static int section(const unsigned char *img, size_t size, const Elf64_Ehdr *eh, unsigned i,
                   Elf64_Shdr *out) {
    const uint64_t off = eh->e_shoff + (uint64_t)i * eh->e_shentsize;
    if (i >= eh->e_shnum || off > size || size - off < sizeof *out) return 0;
    memcpy(out, img + off, sizeof *out);
    return 1;
}

/* Hash of the ELF's sections as above; 0 with *ok = 0 if it is not a well-formed ELF64. */
static uint64_t elf_code_hash(const unsigned char *img, size_t size, int *ok) {
    *ok = 0;
    Elf64_Ehdr eh;
    if (size < sizeof eh || memcmp(img, ELFMAG, SELFMAG) != 0 || img[EI_CLASS] != ELFCLASS64)
        return 0;
    memcpy(&eh, img, sizeof eh);
    if (eh.e_shentsize < sizeof(Elf64_Shdr) || eh.e_shoff > size) return 0;
    Elf64_Shdr names;
    if (!section(img, size, &eh, eh.e_shstrndx, &names) || names.sh_offset > size ||
        size - names.sh_offset < names.sh_size)
        return 0;
    const char *strtab = (const char *)img + names.sh_offset;
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, "qgemm-code-1", 12);
    XXH3_64bits_update(&st, &eh.e_machine, sizeof eh.e_machine);
    XXH3_64bits_update(&st, &eh.e_flags, sizeof eh.e_flags); /* the target architecture */
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh;
        if (!section(img, size, &eh, i, &sh) || sh.sh_name >= names.sh_size ||
            !memchr(strtab + sh.sh_name, 0, names.sh_size - sh.sh_name))
            return 0;
        if (ignored_section(&sh, strtab + sh.sh_name)) continue;
        const uint64_t head[] = {sh.sh_type,    sh.sh_flags, sh.sh_size, sh.sh_addralign,
                                 sh.sh_entsize, sh.sh_link,  sh.sh_info};
        XXH3_64bits_update(&st, head, sizeof head);
        if (sh.sh_type == SHT_NOBITS) continue; /* shared memory: only its size */
        if (sh.sh_offset > size || size - sh.sh_offset < sh.sh_size) return 0;
        XXH3_64bits_update(&st, img + sh.sh_offset, sh.sh_size);
    }
    *ok = 1;
    return XXH3_64bits_digest(&st);
}

uint64_t qg_image_code_hash(const void *image, size_t size) {
    int ok = 0;
    const uint64_t h = image ? elf_code_hash(image, size, &ok) : 0;
    return ok ? h : XXH3_64bits_withSeed(image, image ? size : 0, 0x71676d6d); /* "qgmm" */
}

void qg_code_hash_hex(const qg_variant *v, uint64_t image_hash, const char *helper_hex, char *out) {
    const qg_family *f = v->family;
    uint64_t h = image_hash;
    if (!f->source || helper_hex) {
        XXH3_state_t st;
        XXH3_64bits_reset(&st);
        if (f->source) XXH3_64bits_update(&st, &image_hash, sizeof image_hash);
        /* A library call: what it runs is the library's choice under our policy. */
        const char *policy = f->library_policy ? f->library_policy : "";
        XXH3_64bits_update(&st, policy, strlen(policy) + 1);
        if (helper_hex) XXH3_64bits_update(&st, helper_hex, strlen(helper_hex) + 1);
        h = XXH3_64bits_digest(&st);
    }
    snprintf(out, QG_CODE_HASH_LEN, "%016llx", (unsigned long long)h);
}

const qg_variant *qg_variant_helper(const qg_variant *v) {
    const char *id = v->family->helper_kernel ? v->family->helper_kernel(v->params) : NULL;
    return id ? qg_catalog_find(id) : NULL;
}

qg_status qg_variant_code_hash(const qg_variant *v, const char *arch, const char *cache_dir,
                               char *out) {
    QG_RETURN_IF(NULL, !v || !arch || !out, QG_ERR_NULL_POINTER, "code hash: NULL argument");
    out[0] = 0;
    const int gfx = strncmp(arch, "gfx", 3) == 0;
    const int built = v->family->source
                          ? qg_family_targets_arch(v->family, arch)
                          : !!v->family->hip == gfx && qg_arch_cc(arch) >= v->family->min_cc;
    QG_RETURN_IF(NULL, !built, QG_ERR_UNSUPPORTED_ARCH, "kernel %s is not built for %s", v->id, arch);
    const qg_variant *helper = qg_variant_helper(v);
    QG_RETURN_IF(NULL, v->family->helper_kernel && !helper, QG_ERR_INTERNAL,
                 "the helper kernel of %s is not in the catalog", v->id);
    char helper_hex[QG_CODE_HASH_LEN];
    if (helper) QG_CHECK(qg_variant_code_hash(helper, arch, cache_dir, helper_hex));
    uint64_t image_hash = 0;
    if (v->family->source) {
        const qg_compiler *comp = qg_compiler_for_arch(arch);
        char why[512];
        QG_RETURN_IF(NULL, comp->load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER, "%s", why);
        const uint64_t key = qg_jit_key(v, arch, comp->version());
        void *image = NULL;
        size_t size = 0;
        const int cached = cache_dir && cache_dir[0] &&
                           qg_disk_cache_read(cache_dir, arch, key, &image, &size) == QG_SUCCESS;
        if (!cached) {
            char *log = NULL;
            qg_status s = qg_jit_compile(v, arch, &image, &size, &log, NULL);
            free(log);
            QG_CHECK(s);
            /* a read-only cache only costs a compile next time */
            if (cache_dir && cache_dir[0])
                (void)qg_disk_cache_write(cache_dir, arch, key, image, size);
        }
        image_hash = qg_image_code_hash(image, size);
        free(image);
    }
    qg_code_hash_hex(v, image_hash, helper ? helper_hex : NULL, out);
    return QG_SUCCESS;
}
