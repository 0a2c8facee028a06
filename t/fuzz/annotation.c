/*
 * libFuzzer target: a comment's drawing (libmam/mam_annotation.c).  No
 * crash, no leak; an accepted drawing's text is within the byte limit,
 * and it is a fixed point: checking the server's own writing again gives
 * the same text (so what is stored is what is answered, whoever reads it
 * back).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mam_annotation.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    char           msg[256], *out, *again;
    json_t        *in, *back;
    json_error_t   err;

    in = json_loadb((const char *) data, size,
                    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (in == NULL) {
        return 0;
    }

    rc = mam_annotation_canonical(in, MAM_ANNOTATION_BYTES_MAX, &out, msg,
                                  sizeof(msg));
    json_decref(in);

    if (rc != 0) {
        if (out != NULL || msg[0] == '\0') {
            abort();
        }
        return 0;
    }

    if (out == NULL || strlen(out) > MAM_ANNOTATION_BYTES_MAX) {
        abort();
    }

    back = json_loads(out, 0, &err);
    if (back == NULL) {
        abort();
    }

    if (mam_annotation_canonical(back, MAM_ANNOTATION_BYTES_MAX, &again, msg,
                                 sizeof(msg))
        != 0
        || strcmp(out, again) != 0)
    {
        abort();
    }

    json_decref(back);
    free(again);
    free(out);

    return 0;
}
