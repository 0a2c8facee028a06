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
mam_edge_rest(const char *s, size_t len, char *out, size_t *out_len)
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
                || (seg == 1 && out[n - 1] == '.')
                || (seg == 2 && out[n - 1] == '.' && out[n - 2] == '.'))
            {
                return MAM_EDGE_BAD;
            }
            if (i < len) {
                out[n++] = '/';
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
        out[n++] = c;
        seg++;
    }

    out[n] = '\0';
    *out_len = n;

    return MAM_EDGE_OK;
}

/* the digits of [s, s + n) as a number, 1..max_digits of them; -1 when
 * they are not */
static long
mam_edge_number(const char *s, size_t n, size_t max_digits)
{
    long    v;
    size_t  i;

    if (n == 0 || n > max_digits) {
        return -1;
    }

    v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    return v;
}


/* "{exp}[.{epoch}]/{sig}/" at *p, advancing it: OK, BAD or FORBIDDEN.
 * epoch NULL: no epoch is allowed (download URLs) */
static int
mam_edge_head(const char **p, const char *end, long *exp, char *exp_text,
    char *sig, unsigned long *epoch)
{
    long         e;
    size_t       n, i, digits;
    const char  *seg, *dot;

    /* exp, then the epoch: one spelling each (no leading zero, no ".0") */
    if (mam_edge_segment(p, end, &seg, &n) != 1 || n == 0 || n > 21) {
        return MAM_EDGE_BAD;
    }
    dot = memchr(seg, '.', n);
    digits = dot ? (size_t) (dot - seg) : n;

    *exp = mam_edge_number(seg, digits, 11);
    if (*exp < 0) {
        return MAM_EDGE_BAD;
    }

    if (dot) {
        e = (epoch == NULL || dot[1] == '0') ? -1
            : mam_edge_number(dot + 1, n - digits - 1, 9);
        if (e <= 0) {
            return MAM_EDGE_BAD;
        }
        *epoch = (unsigned long) e;
    }

    memcpy(exp_text, seg, n);
    exp_text[n] = '\0';

    /* sig: checked for shape only; a bad one is 403, not 400 */
    if (mam_edge_segment(p, end, &seg, &n) != 1) {
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
    memcpy(sig, seg, n);
    sig[n] = '\0';

    return MAM_EDGE_OK;
}


int
mam_edge_parse(const char *path, size_t len, mam_edge_url_t *url)
{
    int          rc;
    size_t       n;
    const char  *p, *end, *seg;

    memset(url, 0, sizeof(*url));

    if (len > MAM_EDGE_REST_MAX + 256) {
        return MAM_EDGE_BAD;
    }

    p = path;
    end = path + len;

    rc = mam_edge_head(&p, end, &url->exp, url->exp_text, url->sig,
                       &url->epoch);
    if (rc != MAM_EDGE_OK) {
        return rc;
    }

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

    return mam_edge_rest(p, (size_t) (end - p), url->rest, &url->rest_len);
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
    unsigned long epoch, const char *asset_id, const char *version_id,
    const char *rest, const char *client_ip, char *buf, size_t size)
{
    int     n;
    char    exps[24], msg[256], sig[MAM_SIG_LEN + 1];
    size_t  len;

    if (epoch > MAM_EDGE_EPOCH_MAX) {
        return -1;
    }

    if (epoch) {
        snprintf(exps, sizeof(exps), "%ld.%lu", exp, epoch);
    } else {
        snprintf(exps, sizeof(exps), "%ld", exp);
    }

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


/* --- download URLs -------------------------------------------------------- */

static int
mam_edge_name_byte_ok(unsigned char c)
{
    return c >= 0x20 && c != 0x7f && c != '/' && c != '\\' && c != '"';
}


/* the name segment as sent: [A-Za-z0-9._-] and %XX of any byte a file
 * name may hold, 1..MAM_EDGE_NAME_MAX bytes decoded, not "." or ".." */
static int
mam_edge_name(const char *s, size_t len, mam_edge_dl_t *dl)
{
    int     hi, lo;
    size_t  i, n;

    if (len == 0 || len > 3 * MAM_EDGE_NAME_MAX
        || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return MAM_EDGE_BAD;
    }

    n = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len) {
                return MAM_EDGE_BAD;
            }
            hi = mam_edge_hex((unsigned char) s[i + 1]);
            lo = mam_edge_hex((unsigned char) s[i + 2]);
            if (hi < 0 || lo < 0
                || !mam_edge_name_byte_ok((unsigned char) (hi * 16 + lo)))
            {
                return MAM_EDGE_BAD;
            }
            i += 2;

        } else if (!mam_edge_name_char((unsigned char) s[i])) {
            return MAM_EDGE_BAD;
        }
        n++;
    }

    if (n > MAM_EDGE_NAME_MAX) {
        return MAM_EDGE_BAD;
    }

    memcpy(dl->name, s, len);
    dl->name[len] = '\0';
    dl->name_len = len;

    return MAM_EDGE_OK;
}


int
mam_edge_dl_parse(const char *path, size_t len, mam_edge_dl_t *dl)
{
    int          rc;
    size_t       n;
    const char  *p, *end, *seg;

    memset(dl, 0, sizeof(*dl));

    if (len > 3 * MAM_EDGE_NAME_MAX + MAM_EDGE_REST_MAX + 64) {
        return MAM_EDGE_BAD;
    }

    p = path;
    end = path + len;

    rc = mam_edge_head(&p, end, &dl->exp, dl->exp_text, dl->sig, NULL);
    if (rc != MAM_EDGE_OK) {
        return rc;
    }

    if (mam_edge_segment(&p, end, &seg, &n) != 1
        || mam_edge_name(seg, n, dl) != MAM_EDGE_OK)
    {
        return MAM_EDGE_BAD;
    }

    if (mam_edge_rest(p, (size_t) (end - p), dl->key, &dl->key_len)
        != MAM_EDGE_OK)
    {
        return MAM_EDGE_BAD;
    }

    /* an original or a file of a preview, nothing else */
    if (!((dl->key_len > sizeof("masters/") - 1
           && strncmp(dl->key, "masters/", sizeof("masters/") - 1) == 0)
          || (dl->key_len > sizeof("previews/") - 1
              && strncmp(dl->key, "previews/", sizeof("previews/") - 1)
                 == 0)))
    {
        return MAM_EDGE_BAD;
    }

    return MAM_EDGE_OK;
}


static size_t
mam_edge_dl_message(char *buf, size_t size, const char *exp,
    const char *name, const char *key, const char *client_ip)
{
    int  n;

    if (client_ip) {
        n = snprintf(buf, size, "d/%s/%s/%s/%s", exp, name, key, client_ip);
    } else {
        n = snprintf(buf, size, "d/%s/%s/%s", exp, name, key);
    }

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}


int
mam_edge_dl_verify(const unsigned char *key, size_t keylen,
    const mam_edge_dl_t *dl, const char *client_ip)
{
    char    msg[MAM_EDGE_DL_MESSAGE_MAX];
    size_t  len;

    len = mam_edge_dl_message(msg, sizeof(msg), dl->exp_text, dl->name,
                              dl->key, client_ip);

    return len > 0
           && mam_hmac_verify(key, keylen, msg, len, dl->sig, MAM_SIG_LEN);
}


int
mam_edge_dl_sign(const unsigned char *key, size_t keylen, long exp,
    const char *name, const char *object_key, const char *client_ip,
    char *buf, size_t size)
{
    int     n;
    char    exps[24], msg[MAM_EDGE_DL_MESSAGE_MAX], sig[MAM_SIG_LEN + 1];
    size_t  len;

    snprintf(exps, sizeof(exps), "%ld", exp);

    len = mam_edge_dl_message(msg, sizeof(msg), exps, name, object_key,
                              client_ip);
    if (len == 0 || mam_hmac_sign(key, keylen, msg, len, sig) != 0) {
        return -1;
    }

    n = snprintf(buf, size, "d/%s/%s/%s/%s", exps, sig, name, object_key);

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}


size_t
mam_edge_name_encode(const char *in, char *out, size_t size)
{
    static const char  hex[] = "0123456789ABCDEF";
    size_t             len, i, n;
    unsigned char      c;

    len = strlen(in);
    if (len > MAM_EDGE_NAME_MAX) {
        len = MAM_EDGE_NAME_MAX;
        /* not in the middle of a UTF-8 sequence */
        while (len > 0 && ((unsigned char) in[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    n = 0;
    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];
        if (!mam_edge_name_byte_ok(c)) {
            c = '_';
        }

        if (n + 4 > size) {
            return 0;
        }

        if (mam_edge_name_char(c)) {
            out[n++] = (char) c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0x0f];
        }
    }

    if (n == 0 || (n == 1 && out[0] == '.')
        || (n == 2 && out[0] == '.' && out[1] == '.'))
    {
        if (size < sizeof("download")) {
            return 0;
        }
        memcpy(out, "download", sizeof("download") - 1);
        n = sizeof("download") - 1;
    }

    out[n] = '\0';

    return n;
}


int
mam_edge_disposition(const char *name, char *buf, size_t size)
{
    int            hi, lo;
    size_t         i, n, len;
    unsigned char  c;

    n = (size_t) snprintf(buf, size, "attachment; filename=\"");
    len = strlen(name);

    for (i = 0; i < len; i++) {
        c = (unsigned char) name[i];
        if (c == '%' && i + 2 < len) {
            hi = mam_edge_hex((unsigned char) name[i + 1]);
            lo = mam_edge_hex((unsigned char) name[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (unsigned char) (hi * 16 + lo);
                i += 2;
            }
        }
        if (c >= 0x80 || !mam_edge_name_byte_ok(c)) {
            c = '_';
        }
        if (n + 1 >= size) {
            return -1;
        }
        buf[n++] = (char) c;
    }

    i = (size_t) snprintf(buf + n, size - n, "\"; filename*=UTF-8''%s", name);

    return (n + i >= size) ? -1 : 0;
}
