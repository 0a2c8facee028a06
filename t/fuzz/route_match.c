/*
 * libFuzzer target: the API router's path matching (libmam/mam_route.c)
 * against patterns of every shape the module uses.  Whatever the path, no
 * crash, and a match captures non-empty segments without '/' that lie
 * inside the path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mam_route.h"

static const char  *patterns[] = {
    "/api/health", "/auth/login", "/api/assets", "/api/assets/:id",
    "/api/assets/:id/comments", "/api/comments/:id", "/api/users/:id",
    "/api/uploads/:id/parts", "/api/uploads/:id/complete",
    "/api/preview/events", "/:a/:b/:c/:d", NULL
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              i, k, n;
    const char         *path = (const char *) data;
    mam_route_param_t   params[MAM_ROUTE_MAX_PARAMS];

    for (i = 0; patterns[i]; i++) {
        if (!mam_route_match(patterns[i], path, size, params, &n)) {
            continue;
        }
        if (n > MAM_ROUTE_MAX_PARAMS) {
            abort();
        }
        for (k = 0; k < n; k++) {
            if (params[k].value_len == 0
                || params[k].value < path
                || params[k].value + params[k].value_len > path + size
                || memchr(params[k].value, '/', params[k].value_len))
            {
                abort();
            }
        }
        /* a pattern without captures matches only itself */
        if (n == 0 && (size != strlen(patterns[i])
                       || memcmp(path, patterns[i], size) != 0))
        {
            abort();
        }
    }

    return 0;
}
