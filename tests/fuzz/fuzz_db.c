/* Fuzz target: the tuning-database parser (qg_db_from_json). Whatever it accepts must serialize
 * and parse back to the same number of entries. */
#include "db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qg_db db = {0};
    if (qg_db_from_json(&db, (const char *)data, size) == QG_SUCCESS) {
        char *json = qg_db_to_json(&db);
        qg_db back = {0};
        if (!json || qg_db_from_json(&back, json, strlen(json)) != QG_SUCCESS ||
            back.count != db.count)
            abort(); /* what we accept we must be able to write and read again */
        free(json);
        free(back.entries);
        free(back.index);
    }
    free(db.entries);
    free(db.index);
    return 0;
}
