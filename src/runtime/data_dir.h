/* Where the installed data files (the shipped tuning databases) are, found at run time relative
 * to the file libqgemm was loaded from, so an install prefix or a pip wheel can be moved. */
#ifndef QG_DATA_DIR_H
#define QG_DATA_DIR_H

#include <stddef.h>

/* The first existing share/qgemm/tuning_db in the directory of the file holding libqgemm (the
 * shared library, or the program it is linked into statically) or one or two levels above it:
 * <prefix>/lib, <prefix>/lib/<multiarch>, <prefix>/bin, a wheel's qgemm/lib and a build tree
 * (which links share/qgemm/tuning_db to the source tree). 1 and the path in out, else 0. */
int qg_installed_db_dir(char *out, size_t out_len);

#endif
