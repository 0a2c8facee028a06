/*
 * API path patterns (see mam_route.h).
 */
#include "mam_route.h"

#include <string.h>

int
mam_route_match(const char *pattern, const char *path, size_t len,
    mam_route_param_t *params, size_t *n)
{
    size_t       plen, slen;
    const char  *p, *end, *seg, *s, *pseg;

    p = path;
    end = path + len;
    s = pattern;
    *n = 0;

    while (*s == '/') {
        if (p == end || *p != '/') {
            return 0;
        }

        pseg = ++s;
        while (*s && *s != '/') {
            s++;
        }
        plen = (size_t) (s - pseg);

        seg = ++p;
        while (p < end && *p != '/') {
            p++;
        }
        slen = (size_t) (p - seg);

        if (pseg[0] == ':') {
            if (slen == 0 || *n == MAM_ROUTE_MAX_PARAMS) {
                return 0;
            }
            params[*n].name = pseg + 1;
            params[*n].name_len = plen - 1;
            params[*n].value = seg;
            params[*n].value_len = slen;
            (*n)++;
            continue;
        }

        if (slen != plen || memcmp(seg, pseg, plen) != 0) {
            return 0;
        }
    }

    return p == end && *s == '\0';
}
