/*
 * libFuzzer target: API request bodies (libmam/mam_body.c): parsing into
 * one object and the checks of string members.  No crash, no leak, and an
 * accepted string has no control characters and a length within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mam_body.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char         msg[256];
    size_t       i, len;
    json_t      *body;
    const char  *message, *value;

    static const char  *names[] = { "email", "password", "title",
                                    "description", "content", "filename",
                                    NULL };

    body = mam_body_parse((const char *) data, size, &message);
    if (body == NULL) {
        if (message == NULL) {
            abort();
        }
        return 0;
    }

    if (!json_is_object(body)) {
        abort();
    }

    for (i = 0; names[i]; i++) {
        rc = mam_body_string(body, names[i], 1, 200, (int) (i & 1), &value,
                             &len, msg, sizeof(msg));
        if (rc != 0) {
            continue;
        }
        if (mam_utf8_chars(value, len) < 1 || mam_utf8_chars(value, len) > 200
            || memchr(value, '\0', len) != NULL)
        {
            abort();
        }
        for (size_t k = 0; k < len; k++) {
            if ((unsigned char) value[k] < 0x20 || value[k] == 0x7f) {
                abort();
            }
        }
    }

    json_decref(body);

    return 0;
}
