/*
 * API request bodies (see mam_body.h).
 */
#include "mam_body.h"

#include <stdio.h>

json_t *
mam_body_parse(const char *buf, size_t len, const char **message)
{
    json_t        *value;
    json_error_t   err;

    value = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (value == NULL) {
        *message = "body: malformed JSON";
        return NULL;
    }

    if (!json_is_object(value)) {
        json_decref(value);
        *message = "body: must be a JSON object";
        return NULL;
    }

    return value;
}

size_t
mam_utf8_chars(const char *s, size_t len)
{
    size_t  i, n;

    /* jansson has validated the UTF-8: count the non-continuation bytes */
    for (i = 0, n = 0; i < len; i++) {
        n += ((unsigned char) s[i] & 0xc0) != 0x80;
    }

    return n;
}

int
mam_body_string(json_t *body, const char *name, size_t min, size_t max,
    int required, const char **value, size_t *len, char *msg, size_t size)
{
    size_t         i, n;
    json_t        *v;
    const char    *s;

    v = body ? json_object_get(body, name) : NULL;

    if (v == NULL || json_is_null(v)) {
        if (!required) {
            return 1;
        }
        snprintf(msg, size, "%s: required", name);
        return -1;
    }

    if (!json_is_string(v)) {
        snprintf(msg, size, "%s: must be a string", name);
        return -1;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(msg, size, "%s: must not contain control characters",
                     name);
            return -1;
        }
    }

    i = mam_utf8_chars(s, n);
    if (i < min || i > max) {
        snprintf(msg, size, "%s: must be %zu..%zu characters", name, min,
                 max);
        return -1;
    }

    *value = s;
    *len = n;

    return 0;
}
