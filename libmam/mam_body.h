/*
 * API request bodies (jansson): one JSON object, no duplicate keys, and
 * its string members checked for length (in characters) and control
 * characters.  nginx-free, so it can be fuzzed on its own.
 */
#ifndef MAM_BODY_H
#define MAM_BODY_H

#include <stddef.h>

#include <jansson.h>

/* the object (json_decref it), or NULL with *message */
json_t *mam_body_parse(const char *buf, size_t len, const char **message);

/*
 * The string member name of body, min..max characters, no control
 * characters: 0 with *value and *len set, 1 when absent (or null) and not
 * required, -1 with msg written (a 400's message).
 */
int mam_body_string(json_t *body, const char *name, size_t min, size_t max,
    int required, const char **value, size_t *len, char *msg, size_t size);

/* characters (not bytes) of valid UTF-8 */
size_t mam_utf8_chars(const char *s, size_t len);

#endif
