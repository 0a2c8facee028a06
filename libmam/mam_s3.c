/*
 * S3 requests (see mam_s3.h): SigV4 headers from libmam, transport by
 * libcurl, path-style or virtual-hosted addressing.
 */
#define _GNU_SOURCE
#include "mam_s3.h"
#include "mam_conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

int
mam_s3_set_endpoint(mam_s3_t *s3, const char *endpoint)
{
    const char  *p;
    size_t       n;

    if (strncmp(endpoint, "http://", 7) == 0) {
        strcpy(s3->scheme, "http");
        p = endpoint + 7;
    } else if (strncmp(endpoint, "https://", 8) == 0) {
        strcpy(s3->scheme, "https");
        p = endpoint + 8;
    } else {
        return -1;
    }
    n = strcspn(p, "/");
    if (n == 0 || n >= sizeof(s3->host) || p[n] != '\0') {
        return -1;
    }
    memcpy(s3->host, p, n);
    s3->host[n] = '\0';
    return 0;
}

int
mam_s3_set_sse(mam_s3_t *s3, const char *spec)
{
    size_t  n, k;

    while (*spec == ' ' || *spec == '\t') {
        spec++;
    }
    n = strcspn(spec, " \t");
    k = n;
    while (spec[k] == ' ' || spec[k] == '\t') {
        k++;
    }

    if (n == 6 && strncmp(spec, "AES256", 6) == 0) {
        if (spec[k] != '\0') {
            return -1;                   /* a key id is for aws:kms only */
        }
    } else if (!(n == 7 && strncmp(spec, "aws:kms", 7) == 0)) {
        return -1;
    }

    if (strlen(spec + k) >= sizeof(s3->sse_kms_key)
        || strcspn(spec + k, " \t\r\n") != strlen(spec + k))
    {
        return -1;
    }

    memcpy(s3->sse, spec, n);
    s3->sse[n] = '\0';
    strcpy(s3->sse_kms_key, spec + k);
    return 0;
}

int
mam_s3_sse_headers(const mam_s3_t *s3, mam_sigv4_pair_t *h, size_t *n,
    size_t max)
{
    if (*n + 2 > max) {
        return -1;
    }

    h[(*n)++] = (mam_sigv4_pair_t) { "x-amz-server-side-encryption",
                                     s3->sse[0] ? s3->sse : "AES256" };
    if (s3->sse_kms_key[0] && strcmp(s3->sse, "aws:kms") == 0) {
        h[(*n)++] = (mam_sigv4_pair_t) {
            "x-amz-server-side-encryption-aws-kms-key-id", s3->sse_kms_key };
    }
    return 0;
}

int
mam_s3_load_credentials(mam_s3_t *s3, const char *file, char *err, size_t len)
{
    FILE  *f;
    char   line[512], *k, *v;

    f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, len, "cannot open %s", file);
        return -1;
    }
    s3->access_key[0] = '\0';
    s3->secret_key[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        v = strchr(line, '=');
        if (v == NULL || line[0] == '#') {
            continue;
        }
        *v++ = '\0';
        k = mam_conf_trim(line);
        v = mam_conf_trim(v);
        if (strcmp(k, "access_key_id") == 0 && strlen(v) < sizeof(s3->access_key)) {
            strcpy(s3->access_key, v);
        } else if (strcmp(k, "secret_access_key") == 0
                   && strlen(v) < sizeof(s3->secret_key))
        {
            strcpy(s3->secret_key, v);
        }
    }
    fclose(f);
    memset(line, 0, sizeof(line));

    if (!s3->access_key[0] || !s3->secret_key[0]) {
        snprintf(err, len, "%s: access_key_id and secret_access_key are "
                 "required", file);
        return -1;
    }
    return 0;
}

/* host and path of bucket/key under the addressing style */
static int
mam_s3_target(const mam_s3_t *s3, const char *bucket, const char *key,
    char *host, size_t hlen, char *path, size_t plen)
{
    int  n;

    if (s3->path_style) {
        n = snprintf(host, hlen, "%s", s3->host);
        if (n < 0 || (size_t) n >= hlen) {
            return -1;
        }
        n = snprintf(path, plen, "/%s/%s", bucket, key);
    } else {
        n = snprintf(host, hlen, "%s.%s", bucket, s3->host);
        if (n < 0 || (size_t) n >= hlen) {
            return -1;
        }
        n = snprintf(path, plen, "/%s", key);
    }
    return n < 0 || (size_t) n >= plen ? -1 : 0;
}

static size_t
mam_s3_body(char *p, size_t size, size_t n, void *data)
{
    mam_s3_req_t  *req = data;
    size_t         len, have;

    len = size * n;
    if (req->download) {
        return fwrite(p, 1, len, req->download);
    }
    if (req->body && req->body_size) {
        have = strlen(req->body);
        if (have + len + 1 <= req->body_size) {
            memcpy(req->body + have, p, len);
            req->body[have + len] = '\0';
        }
    }
    return len;
}

static size_t
mam_s3_header(char *p, size_t size, size_t n, void *data)
{
    mam_s3_req_t  *req = data;
    size_t         len = size * n, k;

    if (len > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
        req->content_length = (off_t) strtoll(p + 15, NULL, 10);
    } else if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        for (p += 5, len -= 5; len && *p == ' '; p++, len--) {
            /* void */
        }
        for (k = 0; k < len && k + 1 < sizeof(req->etag)
                    && p[k] != '\r' && p[k] != '\n'; k++)
        {
            req->etag[k] = p[k];
        }
        req->etag[k] = '\0';
        return size * n;
    }
    return size * n;
}

/* the body: upload_size bytes from upload's position, not to its end */
/* the size-aware deadline of a call that moves a file (monotonic ms) */
typedef struct {
    long long   start;
    long long   base;       /* timeout_ms */
    long        rate;       /* low_speed_limit: bytes/s */
    off_t       size;       /* bytes known to move */
    int         expired;
} mam_s3_deadline_t;


static long long
mam_s3_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
mam_s3_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    off_t               size;
    mam_s3_deadline_t  *dl = data;

    (void) dlnow;
    (void) ulnow;

    size = dl->size;
    if ((off_t) dltotal > size) {
        size = (off_t) dltotal;
    }
    if ((off_t) ultotal > size) {
        size = (off_t) ultotal;
    }

    if (mam_s3_now_ms() - dl->start
        > dl->base + (long long) (size / dl->rate) * 1000)
    {
        dl->expired = 1;
        return 1;
    }

    return 0;
}


typedef struct {
    FILE   *f;
    off_t   left;
} mam_s3_reader_t;

static size_t
mam_s3_read(char *p, size_t size, size_t n, void *data)
{
    size_t            want;
    mam_s3_reader_t  *rd = data;

    want = size * n;
    if ((off_t) want > rd->left) {
        want = (size_t) rd->left;
    }
    want = fread(p, 1, want, rd->f);
    rd->left -= (off_t) want;
    return want;
}

int
mam_s3_perform(const mam_s3_t *s3, mam_s3_req_t *req)
{
    int                 rc = -1;
    long                n;
    char                host[512], path[2300], url[8192], query[4096];
    char                amz_date[17], auth[1024], hdr[1400];
    size_t              i, q;
    CURL               *c;
    CURLcode            cc;
    struct curl_slist  *h = NULL;
    mam_sigv4_req_t     sr;
    mam_s3_reader_t     rd;
    mam_s3_deadline_t   dl;
    mam_sigv4_creds_t   cr = { s3->access_key, s3->secret_key, s3->region,
                               "s3" };

    req->status = 0;
    req->content_length = -1;
    req->etag[0] = '\0';
    if (req->body && req->body_size) {
        req->body[0] = '\0';
    }

    if (mam_s3_target(s3, req->bucket, req->key, host, sizeof(host), path,
                      sizeof(path)) != 0)
    {
        snprintf(req->error, sizeof(req->error), "key too long");
        return -1;
    }

    mam_sigv4_amz_date(time(NULL), amz_date);

    memset(&sr, 0, sizeof(sr));
    sr.method = req->method;
    sr.path = path;
    for (i = 0; i < req->nquery; i++) {
        sr.query[sr.nquery++] = req->query[i];
    }
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "host", host };
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "x-amz-date", amz_date };
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "x-amz-content-sha256",
                                                     MAM_SIGV4_UNSIGNED };
    for (i = 0; i < req->nheaders; i++) {
        sr.headers[sr.nheaders++] = req->headers[i];
    }
    sr.payload_hash = MAM_SIGV4_UNSIGNED;

    if (mam_sigv4_authorization(&cr, &sr, amz_date, auth, sizeof(auth)) != 0) {
        snprintf(req->error, sizeof(req->error), "cannot sign");
        return -1;
    }

    /* the URL: encoded path, then the query as signed */
    n = snprintf(url, sizeof(url), "%s://%s", s3->scheme, host);
    n += mam_sigv4_uri_encode(path, strlen(path), 1, url + n,
                              sizeof(url) - (size_t) n);
    q = 0;
    query[0] = '\0';
    for (i = 0; i < req->nquery; i++) {
        char  k[512], v[1024];

        if (mam_sigv4_uri_encode(req->query[i].name,
                                 strlen(req->query[i].name), 0, k, sizeof(k))
                < 0
            || mam_sigv4_uri_encode(req->query[i].value,
                                    strlen(req->query[i].value), 0, v,
                                    sizeof(v)) < 0)
        {
            return -1;
        }
        /* a subresource without value ("?uploads") is signed as "uploads=" */
        q += (size_t) snprintf(query + q, sizeof(query) - q, "%s%s%s%s",
                               i ? "&" : "?", k, *v ? "=" : "", v);
    }
    strncat(url, query, sizeof(url) - strlen(url) - 1);

    c = curl_easy_init();
    if (c == NULL) {
        return -1;
    }

    snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof(hdr), "x-amz-date: %s", amz_date);
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "x-amz-content-sha256: " MAM_SIGV4_UNSIGNED);
    for (i = 0; i < req->nheaders; i++) {
        snprintf(hdr, sizeof(hdr), "%s: %s", req->headers[i].name,
                 req->headers[i].value);
        h = curl_slist_append(h, hdr);
    }
    h = curl_slist_append(h, "Expect:");

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);

    dl.start = mam_s3_now_ms();
    dl.base = s3->timeout_ms > 0 ? s3->timeout_ms : MAM_S3_TIMEOUT_MS;
    dl.rate = s3->low_speed_limit > 0 ? s3->low_speed_limit
                                      : MAM_S3_LOW_SPEED_LIMIT;
    dl.size = req->upload ? req->upload_size : 0;
    dl.expired = 0;

    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, dl.rate);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     s3->low_speed_time > 0 ? s3->low_speed_time
                                            : (long) MAM_S3_LOW_SPEED_TIME);
    if (req->upload || req->download) {
        /* timeout_ms plus the size at the low-speed rate, once known */
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, mam_s3_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &dl);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, dl.base);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mam_s3_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, mam_s3_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, req);

    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        if (req->upload) {
            rd.f = req->upload;
            rd.left = req->upload_size;
            curl_easy_setopt(c, CURLOPT_READFUNCTION, mam_s3_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &rd);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                             (curl_off_t) req->upload_size);
        } else {
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) 0);
        }
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (req->upload) {
            rd.f = req->upload;
            rd.left = req->upload_size;
            curl_easy_setopt(c, CURLOPT_READFUNCTION, mam_s3_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &rd);
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) (req->upload ? req->upload_size : 0));
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }

    cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &req->status);
        rc = 0;
    } else if (dl.expired) {
        snprintf(req->error, sizeof(req->error), "deadline passed");
    } else {
        snprintf(req->error, sizeof(req->error), "%s",
                 curl_easy_strerror(cc));
    }

    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    memset(auth, 0, sizeof(auth));

    return rc;
}

int
mam_s3_presign(const mam_s3_t *s3, const char *method, const char *bucket,
    const char *key, const mam_sigv4_pair_t *headers, size_t nheaders,
    long expires, char *url, size_t size)
{
    return mam_s3_presign_query(s3, method, bucket, key, headers, nheaders,
                                NULL, 0, expires, url, size);
}

int
mam_s3_presign_query(const mam_s3_t *s3, const char *method,
    const char *bucket, const char *key, const mam_sigv4_pair_t *headers,
    size_t nheaders, const mam_sigv4_pair_t *params, size_t nparams,
    long expires, char *url, size_t size)
{
    int                 n;
    char                host[512], path[2300], amz_date[17], query[4096];
    size_t              i;
    mam_sigv4_req_t     sr;
    mam_sigv4_creds_t   cr = { s3->access_key, s3->secret_key, s3->region,
                               "s3" };

    if (mam_s3_target(s3, bucket, key, host, sizeof(host), path,
                      sizeof(path)) != 0)
    {
        return -1;
    }

    mam_sigv4_amz_date(time(NULL), amz_date);

    memset(&sr, 0, sizeof(sr));
    sr.method = method;
    sr.path = path;
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "host", host };
    for (i = 0; i < nheaders; i++) {
        sr.headers[sr.nheaders++] = headers[i];
    }
    for (i = 0; i < nparams && i < 4; i++) {
        sr.query[sr.nquery++] = params[i];
    }

    if (mam_sigv4_presign(&cr, &sr, amz_date, expires, query, sizeof(query))
        != 0)
    {
        return -1;
    }

    n = snprintf(url, size, "%s://%s", s3->scheme, host);
    if (n < 0 || (size_t) n >= size) {
        return -1;
    }
    if (mam_sigv4_uri_encode(path, strlen(path), 1, url + n, size - (size_t) n)
        < 0)
    {
        return -1;
    }
    n = (int) strlen(url);
    return snprintf(url + n, size - (size_t) n, "?%s", query)
           >= (int) (size - (size_t) n) ? -1 : 0;
}


/* --- multipart uploads ---------------------------------------------------- */

int
mam_s3_xml_value(const char *body, const char *tag, char *out, size_t size)
{
    char         open[64], close[64];
    const char  *p, *e;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    p = strstr(body, open);
    e = p ? strstr(p, close) : NULL;
    if (e == NULL || (size_t) (e - p - strlen(open)) >= size) {
        return -1;
    }
    p += strlen(open);
    memcpy(out, p, (size_t) (e - p));
    out[e - p] = '\0';
    return 0;
}

int
mam_s3_multipart_create(const mam_s3_t *s3, const char *bucket,
    const char *key, const mam_sigv4_pair_t *headers, size_t nheaders,
    char *upload_id, size_t size)
{
    char          body[8192];
    size_t        i;
    mam_s3_req_t  req;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.bucket = bucket;
    req.key = key;
    req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploads", "" };
    for (i = 0; i < nheaders && i < 6; i++) {
        req.headers[req.nheaders++] = headers[i];
    }
    req.body = body;
    req.body_size = sizeof(body);

    if (mam_s3_perform(s3, &req) != 0 || req.status != 200
        || mam_s3_xml_value(body, "UploadId", upload_id, size) != 0
        || upload_id[0] == '\0')
    {
        return -1;
    }

    return 0;
}

int
mam_s3_multipart_upload_part(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, int number, FILE *f,
    off_t offset, off_t size, char *etag, size_t etag_size)
{
    char          num[16];
    mam_s3_req_t  req;

    if (fseeko(f, offset, SEEK_SET) != 0) {
        return -1;
    }

    snprintf(num, sizeof(num), "%d", number);

    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.bucket = bucket;
    req.key = key;
    req.query[req.nquery++] = (mam_sigv4_pair_t) { "partNumber", num };
    req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploadId", upload_id };
    req.upload = f;
    req.upload_size = size;

    if (mam_s3_perform(s3, &req) != 0 || req.status != 200
        || req.etag[0] == '\0' || strlen(req.etag) >= etag_size)
    {
        return -1;
    }

    strcpy(etag, req.etag);
    return 0;
}

int
mam_s3_multipart_complete(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, const mam_s3_part_t *parts,
    size_t nparts)
{
    int           rc;
    char         *xml, body[8192];
    size_t        i, len, used;
    FILE         *mem;
    mam_s3_req_t  req;

    len = 64 + nparts * (sizeof(parts->etag) + 64);
    xml = malloc(len);
    if (xml == NULL) {
        return -1;
    }

    used = (size_t) snprintf(xml, len, "<CompleteMultipartUpload>");
    for (i = 0; i < nparts; i++) {
        used += (size_t) snprintf(xml + used, len - used,
                                  "<Part><PartNumber>%d</PartNumber>"
                                  "<ETag>%s</ETag></Part>",
                                  parts[i].number, parts[i].etag);
    }
    used += (size_t) snprintf(xml + used, len - used,
                              "</CompleteMultipartUpload>");

    mem = fmemopen(xml, used, "r");
    if (mem == NULL) {
        free(xml);
        return -1;
    }

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.bucket = bucket;
    req.key = key;
    req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploadId", upload_id };
    req.upload = mem;
    req.upload_size = (off_t) used;
    req.body = body;
    req.body_size = sizeof(body);

    /* S3 may answer 200 with an <Error> once it has begun assembling */
    rc = (mam_s3_perform(s3, &req) == 0 && req.status == 200
          && strstr(body, "<Error>") == NULL) ? 0 : -1;

    fclose(mem);
    free(xml);

    return rc;
}

int
mam_s3_multipart_abort(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id)
{
    mam_s3_req_t  req;

    memset(&req, 0, sizeof(req));
    req.method = "DELETE";
    req.bucket = bucket;
    req.key = key;
    req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploadId", upload_id };

    if (mam_s3_perform(s3, &req) != 0) {
        return -1;
    }

    /* 404: already aborted or completed */
    return (req.status == 204 || req.status == 200 || req.status == 404)
           ? 0 : -1;
}

/* the <Part> entries of one ListParts page into parts[*n..] */
static int
mam_s3_parse_parts(const char *body, mam_s3_part_t *parts, size_t max,
    size_t *n)
{
    char         value[32];
    const char  *p, *e;
    char         part[1024];

    for (p = strstr(body, "<Part>"); p; p = strstr(e, "<Part>")) {
        e = strstr(p, "</Part>");
        if (e == NULL || (size_t) (e - p) >= sizeof(part) || *n >= max) {
            return -1;
        }
        memcpy(part, p, (size_t) (e - p));
        part[e - p] = '\0';

        if (mam_s3_xml_value(part, "PartNumber", value, sizeof(value)) != 0) {
            return -1;
        }
        parts[*n].number = atoi(value);
        if (mam_s3_xml_value(part, "Size", value, sizeof(value)) != 0) {
            return -1;
        }
        parts[*n].size = (off_t) strtoll(value, NULL, 10);
        if (mam_s3_xml_value(part, "ETag", parts[*n].etag,
                             sizeof(parts[*n].etag)) != 0)
        {
            return -1;
        }
        (*n)++;
    }

    return 0;
}

int
mam_s3_multipart_list(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, mam_s3_part_t *parts,
    size_t max, size_t *n)
{
    int           rc = -1;
    char         *body, marker[32], truncated[8];
    mam_s3_req_t  req;

    *n = 0;
    marker[0] = '\0';

    body = malloc(1 << 20);
    if (body == NULL) {
        return -1;
    }

    for ( ;; ) {
        memset(&req, 0, sizeof(req));
        req.method = "GET";
        req.bucket = bucket;
        req.key = key;
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploadId", upload_id };
        if (marker[0]) {
            req.query[req.nquery++] = (mam_sigv4_pair_t) {
                "part-number-marker", marker };
        }
        req.body = body;
        req.body_size = 1 << 20;

        if (mam_s3_perform(s3, &req) != 0 || req.status != 200
            || mam_s3_parse_parts(body, parts, max, n) != 0)
        {
            rc = req.status == 404 ? -2 : -1;
            break;
        }

        if (mam_s3_xml_value(body, "IsTruncated", truncated,
                             sizeof(truncated)) != 0
            || strcmp(truncated, "true") != 0)
        {
            rc = 0;
            break;
        }

        if (mam_s3_xml_value(body, "NextPartNumberMarker", marker,
                             sizeof(marker)) != 0)
        {
            break;
        }
    }

    free(body);

    return rc;
}
