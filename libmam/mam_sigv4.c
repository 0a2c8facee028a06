/*
 * AWS Signature Version 4 (see mam_sigv4.h).  The steps are AWS's:
 * canonical request -> string to sign -> HMAC chain for the signing key ->
 * signature.  Everything is built in caller-sized buffers.
 */
#include "mam_sigv4.h"
#include "mam_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static const char  mam_hex[] = "0123456789abcdef";

long
mam_sigv4_uri_encode(const char *s, size_t len, int keep_slash, char *out,
    size_t size)
{
    size_t          i, n = 0;
    unsigned char   c;

    static const char  up[] = "0123456789ABCDEF";

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || (c == '/' && keep_slash))
        {
            if (n + 1 >= size) {
                return -1;
            }
            out[n++] = (char) c;
        } else {
            if (n + 3 >= size) {
                return -1;
            }
            out[n++] = '%';
            out[n++] = up[c >> 4];
            out[n++] = up[c & 15];
        }
    }
    if (n >= size) {
        return -1;
    }
    out[n] = '\0';
    return (long) n;
}

void
mam_sigv4_amz_date(time_t t, char out[17])
{
    struct tm  tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void
mam_sigv4_hex(const unsigned char *in, size_t len, char *out)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        out[2 * i] = mam_hex[in[i] >> 4];
        out[2 * i + 1] = mam_hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* a growing string in a fixed buffer; -1 once it overflowed */
typedef struct {
    char    *p;
    size_t   len, size;
    int      bad;
} mam_buf_t;

static void
mam_put(mam_buf_t *b, const char *s, size_t n)
{
    if (b->bad || b->len + n + 1 > b->size) {
        b->bad = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
mam_puts(mam_buf_t *b, const char *s)
{
    mam_put(b, s, strlen(s));
}

static void
mam_put_encoded(mam_buf_t *b, const char *s, int keep_slash)
{
    long  n;

    if (b->bad) {
        return;
    }
    n = mam_sigv4_uri_encode(s, strlen(s), keep_slash, b->p + b->len,
                             b->size - b->len);
    if (n < 0) {
        b->bad = 1;
        return;
    }
    b->len += (size_t) n;
}

typedef struct {
    char  name[256];
    char  value[1024];
} mam_kv_t;

static int
mam_kv_cmp(const void *a, const void *b)
{
    const mam_kv_t  *x = a, *y = b;
    int              r;

    r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->value, y->value);
}

/* query pairs encoded and sorted, as the canonical query string */
static int
mam_sigv4_query(const mam_sigv4_req_t *req, mam_buf_t *b)
{
    size_t     i;
    mam_kv_t  *kv;

    kv = calloc(req->nquery ? req->nquery : 1, sizeof(mam_kv_t));
    if (kv == NULL) {
        return -1;
    }
    for (i = 0; i < req->nquery; i++) {
        if (mam_sigv4_uri_encode(req->query[i].name,
                                 strlen(req->query[i].name), 0, kv[i].name,
                                 sizeof(kv[i].name)) < 0
            || mam_sigv4_uri_encode(req->query[i].value,
                                    strlen(req->query[i].value), 0,
                                    kv[i].value, sizeof(kv[i].value)) < 0)
        {
            free(kv);
            return -1;
        }
    }
    qsort(kv, req->nquery, sizeof(mam_kv_t), mam_kv_cmp);
    for (i = 0; i < req->nquery; i++) {
        if (i) {
            mam_puts(b, "&");
        }
        mam_puts(b, kv[i].name);
        mam_puts(b, "=");
        mam_puts(b, kv[i].value);
    }
    free(kv);
    return b->bad ? -1 : 0;
}

/* headers lower-cased, values trimmed with inner runs of spaces folded */
static int
mam_sigv4_headers(const mam_sigv4_req_t *req, mam_buf_t *canon,
    mam_buf_t *names)
{
    size_t       i, j, n;
    mam_kv_t    *kv;
    const char  *v;
    int          space;

    kv = calloc(req->nheaders ? req->nheaders : 1, sizeof(mam_kv_t));
    if (kv == NULL) {
        return -1;
    }
    for (i = 0; i < req->nheaders; i++) {
        if (strlen(req->headers[i].name) >= sizeof(kv[i].name)) {
            free(kv);
            return -1;
        }
        for (j = 0; req->headers[i].name[j]; j++) {
            kv[i].name[j] = (char) tolower((unsigned char)
                                           req->headers[i].name[j]);
        }
        v = req->headers[i].value;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        n = 0;
        space = 0;
        for ( ; *v && n + 1 < sizeof(kv[i].value); v++) {
            if (*v == ' ' || *v == '\t') {
                space = 1;
                continue;
            }
            if (space && n) {
                kv[i].value[n++] = ' ';
            }
            space = 0;
            kv[i].value[n++] = *v;
        }
        kv[i].value[n] = '\0';
    }
    qsort(kv, req->nheaders, sizeof(mam_kv_t), mam_kv_cmp);
    for (i = 0; i < req->nheaders; i++) {
        mam_puts(canon, kv[i].name);
        mam_puts(canon, ":");
        mam_puts(canon, kv[i].value);
        mam_puts(canon, "\n");
        if (i) {
            mam_puts(names, ";");
        }
        mam_puts(names, kv[i].name);
    }
    free(kv);
    return canon->bad || names->bad ? -1 : 0;
}

static int
mam_hmac(const void *key, size_t klen, const char *msg, unsigned char *out)
{
    return mam_hmac_sha256(key, klen, msg, strlen(msg), out);
}

int
mam_sigv4_sign(const mam_sigv4_creds_t *c, const mam_sigv4_req_t *req,
    const char *amz_date, char sig[65], char *signed_headers, size_t shlen,
    char *canonical, size_t clen)
{
    int             rc = -1;
    char           *creq, *sts, date[9], hash[65], key[300];
    unsigned char   md[32], k1[32], k2[32], k3[32], k4[32];
    mam_buf_t       cr, names, st;

    creq = malloc(16384);
    sts = malloc(1024);
    if (creq == NULL || sts == NULL) {
        goto done;
    }

    cr = (mam_buf_t) { creq, 0, 16384, 0 };
    names = (mam_buf_t) { signed_headers, 0, shlen, 0 };
    signed_headers[0] = '\0';

    mam_puts(&cr, req->method);
    mam_puts(&cr, "\n");
    mam_put_encoded(&cr, req->path, 1);
    mam_puts(&cr, "\n");
    if (mam_sigv4_query(req, &cr) != 0) {
        goto done;
    }
    mam_puts(&cr, "\n");
    if (mam_sigv4_headers(req, &cr, &names) != 0) {
        goto done;
    }
    mam_puts(&cr, "\n");
    mam_puts(&cr, signed_headers);
    mam_puts(&cr, "\n");
    mam_puts(&cr, req->payload_hash ? req->payload_hash : MAM_SIGV4_UNSIGNED);
    if (cr.bad) {
        goto done;
    }

    if (canonical) {
        snprintf(canonical, clen, "%s", creq);
    }

    SHA256((unsigned char *) creq, cr.len, md);
    mam_sigv4_hex(md, 32, hash);

    memcpy(date, amz_date, 8);
    date[8] = '\0';

    st = (mam_buf_t) { sts, 0, 1024, 0 };
    mam_puts(&st, "AWS4-HMAC-SHA256\n");
    mam_puts(&st, amz_date);
    mam_puts(&st, "\n");
    mam_puts(&st, date);
    mam_puts(&st, "/");
    mam_puts(&st, c->region);
    mam_puts(&st, "/");
    mam_puts(&st, c->service);
    mam_puts(&st, "/aws4_request\n");
    mam_puts(&st, hash);
    if (st.bad) {
        goto done;
    }

    if (snprintf(key, sizeof(key), "AWS4%s", c->secret_key)
        >= (int) sizeof(key)
        || mam_hmac(key, strlen(key), date, k1) != 0
        || mam_hmac(k1, 32, c->region, k2) != 0
        || mam_hmac(k2, 32, c->service, k3) != 0
        || mam_hmac(k3, 32, "aws4_request", k4) != 0
        || mam_hmac(k4, 32, sts, md) != 0)
    {
        goto done;
    }

    mam_sigv4_hex(md, 32, sig);
    rc = 0;

done:
    OPENSSL_cleanse(key, sizeof(key));
    free(creq);
    free(sts);
    return rc;
}

int
mam_sigv4_authorization(const mam_sigv4_creds_t *c,
    const mam_sigv4_req_t *req, const char *amz_date, char *out, size_t size)
{
    int   n;
    char  sig[65], names[1024];

    if (mam_sigv4_sign(c, req, amz_date, sig, names, sizeof(names), NULL, 0)
        != 0)
    {
        return -1;
    }

    n = snprintf(out, size, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
                 "aws4_request, SignedHeaders=%s, Signature=%s",
                 c->access_key, amz_date, c->region, c->service, names, sig);

    return n < 0 || (size_t) n >= size ? -1 : 0;
}

int
mam_sigv4_presign(const mam_sigv4_creds_t *c, const mam_sigv4_req_t *req,
    const char *amz_date, long expires, char *out, size_t size)
{
    char             sig[65], names[1024], names2[1024], cred[512], exp[24];
    mam_buf_t        b;
    mam_sigv4_req_t  r = *req;

    /* the signed headers' names go into the URL, so sign them first */
    {
        mam_buf_t  cn, nm;
        char       tmp[8192];

        cn = (mam_buf_t) { tmp, 0, sizeof(tmp), 0 };
        nm = (mam_buf_t) { names, 0, sizeof(names), 0 };
        names[0] = '\0';
        if (mam_sigv4_headers(req, &cn, &nm) != 0) {
            return -1;
        }
    }

    snprintf(cred, sizeof(cred), "%s/%.8s/%s/%s/aws4_request",
             c->access_key, amz_date, c->region, c->service);
    snprintf(exp, sizeof(exp), "%ld", expires);

    if (r.nquery + 5 > MAM_SIGV4_MAX_PAIRS) {
        return -1;
    }
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "X-Amz-Algorithm",
                                               "AWS4-HMAC-SHA256" };
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "X-Amz-Credential", cred };
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "X-Amz-Date", amz_date };
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "X-Amz-Expires", exp };
    r.query[r.nquery++] = (mam_sigv4_pair_t) { "X-Amz-SignedHeaders",
                                               names };
    r.payload_hash = MAM_SIGV4_UNSIGNED;

    if (mam_sigv4_sign(c, &r, amz_date, sig, names2, sizeof(names2), NULL, 0)
        != 0)
    {
        return -1;
    }

    /* the query in canonical order, then the signature */
    b = (mam_buf_t) { out, 0, size, 0 };
    out[0] = '\0';
    if (mam_sigv4_query(&r, &b) != 0) {
        return -1;
    }
    mam_puts(&b, "&X-Amz-Signature=");
    mam_puts(&b, sig);

    return b.bad ? -1 : 0;
}
