/*
 * Signed playback URLs: strict parsing of the raw path and HMAC checks.
 * See mam_edge.h and edge.md.
 */
#include "mam_edge.h"

#include <stdio.h>
#include <string.h>

static int
mam_edge_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
mam_edge_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* the next raw segment [*p, end) up to '/', advancing *p past it */
static int
mam_edge_segment(const char **p, const char *end, const char **seg,
    size_t *len)
{
    const char  *s = *p, *slash;

    if (s >= end) {
        return -1;
    }

    slash = memchr(s, '/', (size_t) (end - s));
    *seg = s;
    *len = slash ? (size_t) (slash - s) : (size_t) (end - s);
    *p = slash ? slash + 1 : end;

    return slash ? 1 : 0;
}

/*
 * rest: segments of [A-Za-z0-9._-], percent-encoded bytes allowed only
 * when they decode into that set, no empty, "." or ".." segment
 */
static int
mam_edge_rest(const char *s, size_t len, mam_edge_url_t *url)
{
    size_t  i, n, seg;
    int     hi, lo;
    char    c;

    if (len == 0 || len > MAM_EDGE_REST_MAX) {
        return MAM_EDGE_BAD;
    }

    n = 0;
    seg = 0;
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (seg == 0
                || (seg == 1 && url->rest[n - 1] == '.')
                || (seg == 2 && url->rest[n - 1] == '.'
                    && url->rest[n - 2] == '.'))
            {
                return MAM_EDGE_BAD;
            }
            if (i < len) {
                url->rest[n++] = '/';
            }
            seg = 0;
            continue;
        }

        c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return MAM_EDGE_BAD;
            }
            hi = mam_edge_hex((unsigned char) s[i + 1]);
            lo = mam_edge_hex((unsigned char) s[i + 2]);
            if (hi < 0 || lo < 0) {
                return MAM_EDGE_BAD;
            }
            c = (char) (hi * 16 + lo);
            i += 2;
        }

        if (!mam_edge_name_char((unsigned char) c)) {
            return MAM_EDGE_BAD;
        }
        url->rest[n++] = c;
        seg++;
    }

    url->rest[n] = '\0';
    url->rest_len = n;

    return MAM_EDGE_OK;
}

int
mam_edge_parse(const char *path, size_t len, mam_edge_url_t *url)
{
    size_t       n, i;
    const char  *p, *end, *seg;

    memset(url, 0, sizeof(*url));

    if (len > MAM_EDGE_REST_MAX + 256) {
        return MAM_EDGE_BAD;
    }

    p = path;
    end = path + len;

    /* exp */
    if (mam_edge_segment(&p, end, &seg, &n) != 1
        || n == 0 || n >= 12)
    {
        return MAM_EDGE_BAD;
    }
    url->exp = 0;
    for (i = 0; i < n; i++) {
        if (seg[i] < '0' || seg[i] > '9') {
            return MAM_EDGE_BAD;
        }
        url->exp = url->exp * 10 + (seg[i] - '0');
    }
    memcpy(url->exp_text, seg, n);

    /* sig: checked for shape only; a bad one is 403, not 400 */
    if (mam_edge_segment(&p, end, &seg, &n) != 1) {
        return MAM_EDGE_BAD;
    }
    if (n != MAM_SIG_LEN) {
        return MAM_EDGE_FORBIDDEN;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) seg[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return MAM_EDGE_FORBIDDEN;
        }
    }
    memcpy(url->sig, seg, n);

    /* asset_id, version_id */
    if (mam_edge_segment(&p, end, &seg, &n) != 1
        || !mam_uuid_valid(seg, n))
    {
        return MAM_EDGE_BAD;
    }
    memcpy(url->asset_id, seg, n);

    if (mam_edge_segment(&p, end, &seg, &n) != 1
        || !mam_uuid_valid(seg, n))
    {
        return MAM_EDGE_BAD;
    }
    memcpy(url->version_id, seg, n);

    return mam_edge_rest(p, (size_t) (end - p), url);
}

size_t
mam_edge_message(char *buf, size_t size, const char *exp,
    const char *asset_id, const char *version_id, const char *client_ip)
{
    int  n;

    if (client_ip) {
        n = snprintf(buf, size, "%s/%s/%s/%s", exp, asset_id, version_id,
                     client_ip);
    } else {
        n = snprintf(buf, size, "%s/%s/%s", exp, asset_id, version_id);
    }

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}

int
mam_edge_verify(const unsigned char *key, size_t keylen,
    const mam_edge_url_t *url, const char *client_ip)
{
    char    msg[256];
    size_t  len;

    len = mam_edge_message(msg, sizeof(msg), url->exp_text, url->asset_id,
                           url->version_id, client_ip);

    return len > 0
           && mam_hmac_verify(key, keylen, msg, len, url->sig, MAM_SIG_LEN);
}

int
mam_edge_sign(const unsigned char *key, size_t keylen, long exp,
    const char *asset_id, const char *version_id, const char *rest,
    const char *client_ip, char *buf, size_t size)
{
    int     n;
    char    exps[24], msg[256], sig[MAM_SIG_LEN + 1];
    size_t  len;

    snprintf(exps, sizeof(exps), "%ld", exp);

    len = mam_edge_message(msg, sizeof(msg), exps, asset_id, version_id,
                           client_ip);
    if (len == 0 || mam_hmac_sign(key, keylen, msg, len, sig) != 0) {
        return -1;
    }

    n = snprintf(buf, size, "%s/%s/%s/%s/%s", exps, sig, asset_id,
                 version_id, rest);

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}

const char *
mam_edge_content_type(const char *rest, size_t len)
{
    static const struct {
        const char  *ext;
        const char  *type;
    } types[] = {
        { ".m3u8", "application/vnd.apple.mpegurl" },
        { ".ts", "video/mp2t" },
        { ".m4s", "video/mp4" },
        { ".mp4", "video/mp4" },
        { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" },
        { ".vtt", "text/vtt" },
        { NULL, NULL }
    };
    size_t  i, n;

    for (i = 0; types[i].ext; i++) {
        n = strlen(types[i].ext);
        if (len >= n && strncmp(rest + len - n, types[i].ext, n) == 0) {
            return types[i].type;
        }
    }

    return NULL;
}
