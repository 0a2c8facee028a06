/*
 * The API's path patterns ("/api/assets/:id/comments") matched against a
 * request path: literal segments byte for byte, ":name" any non-empty
 * segment, captured.  nginx-free, so it can be fuzzed on its own.
 */
#ifndef MAM_ROUTE_H
#define MAM_ROUTE_H

#include <stddef.h>

#define MAM_ROUTE_MAX_PARAMS  4

typedef struct {
    const char  *name;       /* in the pattern, after ':' */
    size_t       name_len;
    const char  *value;      /* in the path */
    size_t       value_len;
} mam_route_param_t;

/* 1 on a match (params filled, *n of them), 0 otherwise */
int mam_route_match(const char *pattern, const char *path, size_t len,
    mam_route_param_t *params, size_t *n);

#endif
