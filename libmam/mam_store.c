/*
 * One storage interface (see mam_store.h): each operation picks its local
 * or S3 backend; the area rules (write-once or replaced) and the mapping of
 * keys to paths and buckets live here only.
 */
#define _GNU_SOURCE
#include "mam_store.h"
#include "mam_edge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAM_STORE_LIST_BODY    (1 << 20)
#define MAM_STORE_LIST_ROUNDS  1000         /* 1000 keys a round */


/* a sentence for the caller's log, when it gave room for one */
static void __attribute__((format(printf, 3, 4)))
mam_store_err(char *err, size_t len, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL || len == 0) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(err, len, fmt, args);
    va_end(args);
}


/* --- set-up -------------------------------------------------------------- */

int
mam_store_init_local(mam_store_t *st, const char *root)
{
    size_t  n;

    n = strlen(root);
    while (n > 1 && root[n - 1] == '/') {
        n--;
    }
    if (root[0] != '/' || n >= sizeof(st->root)) {
        return -1;
    }

    st->kind = MAM_STORE_LOCAL;
    memcpy(st->root, root, n);
    st->root[n] = '\0';
    return 0;
}

int
mam_store_init_s3(mam_store_t *st, const char *staging, const char *masters,
    const char *previews)
{
    int          i;
    const char  *names[3];

    names[0] = staging;
    names[1] = masters;
    names[2] = previews;

    for (i = 0; i < 3; i++) {
        if (names[i] == NULL || names[i][0] == '\0'
            || strlen(names[i]) >= sizeof(st->bucket[i]))
        {
            return -1;
        }
    }
    for (i = 0; i < 3; i++) {
        /* the names may be st's own (parsed in place) */
        memmove(st->bucket[i], names[i], strlen(names[i]) + 1);
    }

    st->kind = MAM_STORE_S3;
    return 0;
}


/* --- keys ---------------------------------------------------------------- */

int
mam_store_area(const char *key)
{
    int  i;

    static const char  *prefixes[] = {
        MAM_AREA_UPLOADS, MAM_AREA_MASTERS, MAM_AREA_PREVIEWS
    };

    for (i = 0; i < 3; i++) {
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0) {
            return i;
        }
    }
    return -1;
}

int
mam_store_write_once(const char *key)
{
    int  area = mam_store_area(key);

    return area == MAM_STORE_UPLOADS || area == MAM_STORE_MASTERS;
}

const char *
mam_store_bucket(const mam_store_t *st, const char *key)
{
    int  area = mam_store_area(key);

    if (area < 0 || st->bucket[area][0] == '\0') {
        return NULL;
    }
    return st->bucket[area];
}

int
mam_store_path(const mam_store_t *st, const char *key, char *buf,
    size_t size)
{
    /* a bad key is EINVAL, so a caller's error says why */
    if (st->root[0] != '/' || mam_local_path(buf, size, st->root, key) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

const char *
mam_store_content_type(const char *key)
{
    const char  *type = mam_edge_content_type(key, strlen(key));

    return type ? type : "application/octet-stream";
}


/* --- S3 helpers ----------------------------------------------------------- */

/* a request on bucket/key, everything else empty */
static void
mam_store_s3_req(mam_s3_req_t *req, const char *method, const char *bucket,
    const char *key)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->bucket = bucket;
    req->key = key;
}

/* a request without a body: its status (and Content-Length), or -1 */
static int
mam_store_s3_call(const mam_store_t *st, const char *method,
    const char *bucket, const char *key, long *status, off_t *size)
{
    mam_s3_req_t  req;

    mam_store_s3_req(&req, method, bucket, key);

    if (mam_s3_perform(&st->s3, &req) != 0) {
        return -1;
    }
    *status = req.status;
    if (size) {
        *size = req.content_length;
    }
    return 0;
}

static int
mam_store_s3_error(void)
{
    errno = EIO;
    return MAM_STORAGE_ERROR;
}

/* the key's bucket after checking the key; NULL (EINVAL) */
static const char *
mam_store_s3_bucket(const mam_store_t *st, const char *key)
{
    const char  *bucket;

    bucket = mam_key_valid(key, strlen(key)) ? mam_store_bucket(st, key)
                                             : NULL;
    if (bucket == NULL) {
        errno = EINVAL;
    }
    return bucket;
}

/* the headers every write of an object carries: type, encryption, and the
 * legal hold of a master when object lock is on */
static int
mam_store_s3_write_headers(const mam_store_t *st, const char *key,
    const char *type, mam_sigv4_pair_t *h, size_t *n, size_t max)
{
    if (type) {
        if (*n >= max) {
            return -1;
        }
        h[(*n)++] = (mam_sigv4_pair_t) { "content-type", type };
    }
    if (st->object_lock && mam_store_area(key) == MAM_STORE_MASTERS) {
        if (*n >= max) {
            return -1;
        }
        h[(*n)++] = (mam_sigv4_pair_t) { "x-amz-object-lock-legal-hold",
                                         "ON" };
    }
    return mam_s3_sse_headers(&st->s3, h, n, max);
}

/* EXISTS when a write-once key has an object already */
static int
mam_store_s3_vacant(const mam_store_t *st, const char *bucket,
    const char *key)
{
    long  status;

    if (!mam_store_write_once(key)) {
        return MAM_STORAGE_OK;
    }
    if (mam_store_s3_call(st, "HEAD", bucket, key, &status, NULL) != 0) {
        return mam_store_s3_error();
    }
    return status == 200 ? MAM_STORAGE_EXISTS : MAM_STORAGE_OK;
}


/* --- put ------------------------------------------------------------------ */

/* a large file in parts: create, parts of st->part_size, complete; any
 * failure aborts, so no half object and no billed parts stay behind */
static int
mam_store_s3_put_parts(const mam_store_t *st, FILE *f, off_t size,
    const char *bucket, const char *key, char *err, size_t len)
{
    int             number;
    char            upload_id[512];
    off_t           off, n;
    size_t          nparts;
    mam_s3_part_t  *parts;

    if (mam_store_multipart_create(st, key, mam_store_content_type(key),
                                   upload_id, sizeof(upload_id))
        != MAM_STORAGE_OK)
    {
        mam_store_err(err, len, "cannot start a multipart upload of %s",
                      key);
        return MAM_STORAGE_ERROR;
    }

    parts = calloc((size_t) (size / st->part_size + 1), sizeof(*parts));
    if (parts == NULL) {
        mam_store_err(err, len, "multipart upload of %s failed: out of memory",
                      key);
        goto abort;
    }

    nparts = 0;
    for (number = 1, off = 0; off < size; number++, off += st->part_size) {
        n = size - off < st->part_size ? size - off : st->part_size;
        if (mam_s3_multipart_upload_part(&st->s3, bucket, key, upload_id,
                                         number, f, off, n,
                                         parts[nparts].etag,
                                         sizeof(parts[nparts].etag))
            != 0)
        {
            mam_store_err(err, len, "part %d of %s failed", number, key);
            goto abort;
        }
        parts[nparts].number = number;
        parts[nparts].size = n;
        nparts++;
    }

    if (mam_s3_multipart_complete(&st->s3, bucket, key, upload_id, parts,
                                  nparts)
        == 0)
    {
        free(parts);
        if (st->note) {
            char  note[1400];

            snprintf(note, sizeof(note), "uploaded %s in parts (%lld bytes)",
                     key, (long long) size);
            st->note(note);
        }
        return MAM_STORAGE_OK;
    }

    mam_store_err(err, len, "cannot complete the multipart upload of %s",
                  key);

abort:
    free(parts);
    (void) mam_s3_multipart_abort(&st->s3, bucket, key, upload_id);
    return mam_store_s3_error();
}

static int
mam_store_s3_put(const mam_store_t *st, const char *file, const char *key,
    char *err, size_t len)
{
    int            rc;
    FILE          *f;
    struct stat    sb;
    const char    *bucket;
    mam_s3_req_t   req;

    bucket = mam_store_s3_bucket(st, key);
    if (bucket == NULL) {
        mam_store_err(err, len, "invalid storage key %s", key);
        return MAM_STORAGE_ERROR;
    }

    f = fopen(file, "rb");
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        rc = errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
        mam_store_err(err, len, "cannot read %s: %s", file, strerror(errno));
        if (f) {
            fclose(f);
        }
        return rc;
    }

    rc = mam_store_s3_vacant(st, bucket, key);
    if (rc != MAM_STORAGE_OK) {
        mam_store_err(err, len, rc == MAM_STORAGE_EXISTS
                      ? "%s exists already" : "cannot reach S3 for %s",
                      key);
        fclose(f);
        return rc;
    }

    if (st->part_size > 0 && sb.st_size >= st->part_size) {
        rc = mam_store_s3_put_parts(st, f, sb.st_size, bucket, key, err, len);
        fclose(f);
        return rc;
    }

    mam_store_s3_req(&req, "PUT", bucket, key);
    req.upload = f;
    req.upload_size = sb.st_size;
    if (mam_store_write_once(key)) {
        req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "if-none-match",
                                                           "*" };
    }
    if (mam_store_s3_write_headers(st, key, mam_store_content_type(key),
                                   req.headers, &req.nheaders,
                                   sizeof(req.headers)
                                   / sizeof(req.headers[0]))
        != 0
        || mam_s3_perform(&st->s3, &req) != 0)
    {
        fclose(f);
        mam_store_err(err, len, "cannot upload %s to S3 (%s)", key,
                      req.error[0] ? req.error : "no request");
        return mam_store_s3_error();
    }
    fclose(f);

    if (req.status == 412) {
        mam_store_err(err, len, "%s exists already", key);
        return MAM_STORAGE_EXISTS;
    }
    if (req.status != 200) {
        mam_store_err(err, len, "cannot upload %s to S3 (HTTP %ld)", key,
                      req.status);
        return mam_store_s3_error();
    }
    return MAM_STORAGE_OK;
}

/* a replaced object: placed under a temporary name, then renamed over */
static int
mam_store_local_replace(const char *file, const char *path, mode_t mode)
{
    int           rc;
    char          tmp[PATH_MAX + 64];
    static long   seq;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.%ld.%ld.put", path,
                          (long) getpid(),
                          __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED))
        >= sizeof(tmp))
    {
        errno = ENAMETOOLONG;
        return MAM_STORAGE_ERROR;
    }

    rc = mam_local_place(file, tmp, mode);
    if (rc != MAM_STORAGE_OK) {
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int  saved = errno;

        (void) unlink(tmp);
        errno = saved;
        return MAM_STORAGE_ERROR;
    }
    return MAM_STORAGE_OK;
}

int
mam_store_put(const mam_store_t *st, const char *file, const char *key,
    char *err, size_t len)
{
    int     rc;
    char    path[PATH_MAX];
    mode_t  mode;

    if (st->kind == MAM_STORE_S3) {
        return mam_store_s3_put(st, file, key, err, len);
    }

    if (mam_store_path(st, key, path, sizeof(path)) != 0) {
        errno = EINVAL;
        mam_store_err(err, len, "invalid storage key %s", key);
        return MAM_STORAGE_ERROR;
    }

    mode = mam_store_area(key) == MAM_STORE_MASTERS ? 0444 : 0644;
    rc = mam_store_write_once(key) ? mam_local_place(file, path, mode)
                                   : mam_store_local_replace(file, path, mode);

    if (rc == MAM_STORAGE_ERROR) {
        mam_store_err(err, len, "cannot write %s: %s", path, strerror(errno));
    } else if (rc == MAM_STORAGE_EXISTS) {
        mam_store_err(err, len, "%s exists already", key);
    } else if (rc == MAM_STORAGE_MISSING) {
        mam_store_err(err, len, "cannot read %s", file);
    }
    return rc;
}


/* --- promote, remove, size ---------------------------------------------- */

static int
mam_store_s3_promote(const mam_store_t *st, const char *from_key,
    const char *key)
{
    int           rc;
    long          status;
    char          source[2400];
    size_t        n;
    const char   *bucket, *from_bucket;
    mam_s3_req_t  req;

    bucket = mam_store_s3_bucket(st, key);
    from_bucket = mam_store_s3_bucket(st, from_key);
    if (bucket == NULL || from_bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }

    /* write-once: a HEAD first, as not every service honours If-None-Match
     * on a copy */
    rc = mam_store_s3_vacant(st, bucket, key);
    if (rc != MAM_STORAGE_OK) {
        return rc;
    }

    n = (size_t) snprintf(source, sizeof(source), "/%s/", from_bucket);
    if (n >= sizeof(source)
        || mam_sigv4_uri_encode(from_key, strlen(from_key), 1, source + n,
                                sizeof(source) - n) < 0)
    {
        errno = ENAMETOOLONG;
        return MAM_STORAGE_ERROR;
    }

    mam_store_s3_req(&req, "PUT", bucket, key);
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "x-amz-copy-source",
                                                       source };
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "if-none-match", "*" };

    /* the copy is encrypted at rest as configured (a copy does not inherit
     * the source's encryption unless asked); its type is the source's */
    if (mam_store_s3_write_headers(st, key, NULL, req.headers, &req.nheaders,
                                   sizeof(req.headers)
                                   / sizeof(req.headers[0]))
        != 0
        || mam_s3_perform(&st->s3, &req) != 0)
    {
        return mam_store_s3_error();
    }
    if (req.status == 404) {
        return MAM_STORAGE_MISSING;
    }
    if (req.status == 412) {
        return MAM_STORAGE_EXISTS;
    }
    if (req.status != 200) {
        return mam_store_s3_error();
    }

    /* the copy is there; the source may go */
    (void) mam_store_s3_call(st, "DELETE", from_bucket, from_key, &status,
                             NULL);
    return MAM_STORAGE_OK;
}

int
mam_store_promote(const mam_store_t *st, const char *from_key,
    const char *key)
{
    int   rc;
    char  from[PATH_MAX], to[PATH_MAX];

    if (st->kind == MAM_STORE_S3) {
        return mam_store_s3_promote(st, from_key, key);
    }

    if (mam_store_path(st, from_key, from, sizeof(from)) != 0
        || mam_store_path(st, key, to, sizeof(to)) != 0)
    {
        errno = EINVAL;
        return MAM_STORAGE_ERROR;
    }

    /* always exclusive: a promote makes a write-once copy */
    rc = mam_local_place(from, to,
                         mam_store_area(key) == MAM_STORE_MASTERS ? 0444
                                                                  : 0644);
    if (rc == MAM_STORAGE_OK) {
        /* the copy is durable; the source name may go */
        (void) mam_local_remove(from);
    }
    return rc;
}

int
mam_store_remove(const mam_store_t *st, const char *key)
{
    long         status;
    char         path[PATH_MAX];
    const char  *bucket;

    if (st->kind == MAM_STORE_LOCAL) {
        if (mam_store_path(st, key, path, sizeof(path)) != 0) {
            return MAM_STORAGE_ERROR;
        }
        return mam_local_remove(path);
    }

    bucket = mam_store_s3_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }
    if (mam_store_s3_call(st, "DELETE", bucket, key, &status, NULL) != 0
        || (status != 204 && status != 200 && status != 404))
    {
        return mam_store_s3_error();
    }
    return MAM_STORAGE_OK;
}

/* the text of the next <Key> of a ListObjectsV2 answer, entities decoded */
static char *
mam_store_s3_next_key(const char **pos, char *out, size_t size)
{
    size_t       n = 0;
    const char  *p, *e;

    static const struct {
        const char  *entity;
        size_t       len;
        char         c;
    } entities[] = {
        { "&amp;", 5, '&' }, { "&lt;", 4, '<' }, { "&gt;", 4, '>' },
        { "&quot;", 6, '"' }, { "&apos;", 6, '\'' }
    };

    p = strstr(*pos, "<Key>");
    if (p == NULL) {
        return NULL;
    }
    p += 5;
    e = strstr(p, "</Key>");
    if (e == NULL) {
        return NULL;
    }
    *pos = e + 6;

    while (p < e && n + 1 < size) {
        size_t  i, k = sizeof(entities) / sizeof(entities[0]);

        for (i = 0; *p == '&' && i < k; i++) {
            if (strncmp(p, entities[i].entity, entities[i].len) == 0) {
                break;
            }
        }
        if (*p == '&' && i < k) {
            out[n++] = entities[i].c;
            p += entities[i].len;
            continue;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static int
mam_store_s3_remove_folder(const mam_store_t *st, const char *key)
{
    int           round, rc = MAM_STORAGE_OK;
    long          status;
    char         *body, name[MAM_KEY_MAX_LEN + 64], prefix[MAM_KEY_MAX_LEN + 2];
    const char   *bucket, *pos;
    mam_s3_req_t  req;

    bucket = mam_store_s3_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }
    snprintf(prefix, sizeof(prefix), "%s/", key);

    body = malloc(MAM_STORE_LIST_BODY);
    if (body == NULL) {
        return MAM_STORAGE_ERROR;
    }

    /* list and delete until nothing is left (bounded) */
    for (round = 0; round < MAM_STORE_LIST_ROUNDS; round++) {
        mam_store_s3_req(&req, "GET", bucket, "");
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "list-type", "2" };
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "prefix", prefix };
        req.body = body;
        req.body_size = MAM_STORE_LIST_BODY;

        if (mam_s3_perform(&st->s3, &req) != 0 || req.status != 200) {
            rc = mam_store_s3_error();
            break;
        }

        pos = body;
        if (mam_store_s3_next_key(&pos, name, sizeof(name)) == NULL) {
            break;
        }
        do {
            if (mam_store_s3_call(st, "DELETE", bucket, name, &status, NULL)
                != 0)
            {
                rc = mam_store_s3_error();
                goto done;
            }
        } while (mam_store_s3_next_key(&pos, name, sizeof(name)) != NULL);
    }

done:
    free(body);
    return rc;
}

int
mam_store_remove_folder(const mam_store_t *st, const char *key)
{
    char  path[PATH_MAX];

    if (st->kind == MAM_STORE_S3) {
        return mam_store_s3_remove_folder(st, key);
    }

    if (mam_store_path(st, key, path, sizeof(path)) != 0) {
        return MAM_STORAGE_ERROR;
    }
    return mam_local_remove_tree(path);
}

int
mam_store_size(const mam_store_t *st, const char *key, off_t *size)
{
    long         status;
    char         path[PATH_MAX];
    const char  *bucket;

    *size = -1;

    if (st->kind == MAM_STORE_LOCAL) {
        if (mam_store_path(st, key, path, sizeof(path)) != 0) {
            return MAM_STORAGE_ERROR;
        }
        *size = mam_local_size(path);
        return MAM_STORAGE_OK;
    }

    bucket = mam_store_s3_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }
    if (mam_store_s3_call(st, "HEAD", bucket, key, &status, size) != 0
        || (status != 200 && status != 404))
    {
        *size = -1;
        return mam_store_s3_error();
    }
    if (status != 200) {
        *size = -1;
    }
    return MAM_STORAGE_OK;
}


/* --- download ------------------------------------------------------------- */

static int
mam_store_local_download(const mam_store_t *st, const char *key,
    const char *file, char *err, size_t len)
{
    int   in, out, rc;
    char  path[PATH_MAX];

    if (mam_store_path(st, key, path, sizeof(path)) != 0) {
        errno = EINVAL;
        mam_store_err(err, len, "invalid storage key %s", key);
        return MAM_STORAGE_ERROR;
    }

    in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
        mam_store_err(err, len, "cannot read %s: %s", path, strerror(errno));
        return rc;
    }
    out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        mam_store_err(err, len, "cannot write %s: %s", file, strerror(errno));
        close(in);
        return MAM_STORAGE_ERROR;
    }

    rc = mam_copy_fd(in, out) == 0 ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;
    if (rc != MAM_STORAGE_OK) {
        mam_store_err(err, len, "cannot copy %s: %s", path, strerror(errno));
    }
    close(in);
    if (close(out) != 0 && rc == MAM_STORAGE_OK) {
        mam_store_err(err, len, "cannot write %s: %s", file, strerror(errno));
        rc = MAM_STORAGE_ERROR;
    }
    return rc;
}

int
mam_store_download(const mam_store_t *st, const char *key, const char *file,
    char *err, size_t len)
{
    FILE          *f;
    const char    *bucket;
    mam_s3_req_t   req;

    if (st->kind == MAM_STORE_LOCAL) {
        return mam_store_local_download(st, key, file, err, len);
    }

    bucket = mam_store_s3_bucket(st, key);
    if (bucket == NULL) {
        mam_store_err(err, len, "invalid storage key %s", key);
        return MAM_STORAGE_ERROR;
    }

    f = fopen(file, "wb");
    if (f == NULL) {
        mam_store_err(err, len, "cannot write %s: %s", file, strerror(errno));
        return MAM_STORAGE_ERROR;
    }

    mam_store_s3_req(&req, "GET", bucket, key);
    req.download = f;

    if (mam_s3_perform(&st->s3, &req) != 0 || req.status != 200) {
        fclose(f);
        if (req.status) {
            mam_store_err(err, len, "HTTP %ld", req.status);
        } else {
            mam_store_err(err, len, "%s", req.error);
        }
        if (req.status == 404) {
            return MAM_STORAGE_MISSING;
        }
        return mam_store_s3_error();
    }

    if (fclose(f) != 0) {
        mam_store_err(err, len, "cannot write %s: %s", file, strerror(errno));
        return MAM_STORAGE_ERROR;
    }
    return MAM_STORAGE_OK;
}


/* --- trees ---------------------------------------------------------------- */

/* a file that names others (a playlist, a WebVTT track): sent after them */
static int
mam_store_index_file(const char *name)
{
    size_t  n = strlen(name);

    return (n > 5 && strcmp(name + n - 5, ".m3u8") == 0)
           || (n > 4 && strcmp(name + n - 4, ".vtt") == 0);
}

/* every file under dir/sub at prefix/sub/..., except the top-level last:
 * the index files (indexes 1) or all others (0) */
static int
mam_store_put_tree(const mam_store_t *st, const char *dir, const char *sub,
    const char *prefix, const char *last, int indexes, char *err, size_t len)
{
    int             rc = MAM_STORAGE_OK;
    DIR            *d;
    char            path[PATH_MAX], rel[PATH_MAX], key[MAM_KEY_MAX_LEN + 1];
    struct stat     sb;
    struct dirent  *e;

    if ((size_t) snprintf(path, sizeof(path), "%s%s%s", dir, *sub ? "/" : "",
                          sub) >= sizeof(path))
    {
        errno = ENAMETOOLONG;
        mam_store_err(err, len, "cannot read %s/%s", dir, sub);
        return MAM_STORAGE_ERROR;
    }
    d = opendir(path);
    if (d == NULL) {
        mam_store_err(err, len, "cannot read %s: %s", path, strerror(errno));
        return MAM_STORAGE_ERROR;
    }

    while (rc == MAM_STORAGE_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if ((size_t) snprintf(rel, sizeof(rel), "%s%s%s", sub,
                              *sub ? "/" : "", e->d_name) >= sizeof(rel)
            || (size_t) snprintf(path, sizeof(path), "%s/%s", dir, rel)
               >= sizeof(path)
            || (size_t) snprintf(key, sizeof(key), "%s/%s", prefix, rel)
               >= sizeof(key))
        {
            errno = ENAMETOOLONG;
            mam_store_err(err, len, "name too long under %s", dir);
            rc = MAM_STORAGE_ERROR;
            break;
        }

        /* never follow a link out of the folder */
        if (lstat(path, &sb) != 0) {
            mam_store_err(err, len, "cannot read %s: %s", path,
                          strerror(errno));
            rc = MAM_STORAGE_ERROR;

        } else if (S_ISDIR(sb.st_mode)) {
            rc = mam_store_put_tree(st, dir, rel, prefix, last, indexes, err,
                                    len);

        } else if (!S_ISREG(sb.st_mode)) {
            errno = EINVAL;
            mam_store_err(err, len, "%s is neither a file nor a folder",
                          path);
            rc = MAM_STORAGE_ERROR;

        } else if (!(*sub == '\0' && last && strcmp(e->d_name, last) == 0)
                   && mam_store_index_file(e->d_name) == indexes)
        {
            rc = mam_store_put(st, path, key, err, len);
        }
    }

    closedir(d);
    return rc;
}

int
mam_store_upload_tree(const mam_store_t *st, const char *dir,
    const char *prefix, const char *last, char *err, size_t len)
{
    int   rc;
    char  path[PATH_MAX], key[MAM_KEY_MAX_LEN + 1];

    /* the media, then the playlists and tracks that name them: a reader
     * who finds an index (a growing ladder's players do) finds its files */
    rc = mam_store_put_tree(st, dir, "", prefix, last, 0, err, len);
    if (rc == MAM_STORAGE_OK) {
        rc = mam_store_put_tree(st, dir, "", prefix, last, 1, err, len);
    }
    if (rc != MAM_STORAGE_OK || last == NULL) {
        return rc;
    }

    /* the last file after all it names */
    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, last)
        >= sizeof(path)
        || (size_t) snprintf(key, sizeof(key), "%s/%s", prefix, last)
           >= sizeof(key))
    {
        errno = ENAMETOOLONG;
        return MAM_STORAGE_ERROR;
    }
    return mam_store_put(st, path, key, err, len);
}

/* local: dir takes the folder's name in one step; a previous folder is
 * exchanged out and removed afterwards */
static int
mam_store_local_publish(const mam_store_t *st, const char *dir,
    const char *prefix, char *err, size_t len)
{
    char  path[PATH_MAX];

    if (mam_store_path(st, prefix, path, sizeof(path)) != 0) {
        errno = EINVAL;
        mam_store_err(err, len, "invalid storage key %s", prefix);
        return MAM_STORAGE_ERROR;
    }
    if (mam_local_make_parent(path) != 0) {
        mam_store_err(err, len, "cannot publish %s: %s", path,
                      strerror(errno));
        return MAM_STORAGE_ERROR;
    }

    if (rename(dir, path) == 0) {
        return MAM_STORAGE_OK;
    }
    if ((errno != ENOTEMPTY && errno != EEXIST)
        || renameat2(AT_FDCWD, dir, AT_FDCWD, path, RENAME_EXCHANGE) != 0)
    {
        mam_store_err(err, len, "cannot publish %s: %s", path,
                      strerror(errno));
        return MAM_STORAGE_ERROR;
    }

    /* dir now holds the previous folder */
    (void) mam_local_remove_tree(dir);
    return MAM_STORAGE_OK;
}

int
mam_store_publish(const mam_store_t *st, const char *dir, const char *prefix,
    const char *last, char *err, size_t len)
{
    if (mam_store_write_once(prefix)) {
        errno = EPERM;
        mam_store_err(err, len, "%s is write-once: not published",
                      prefix);
        return MAM_STORAGE_ERROR;
    }

    if (st->kind == MAM_STORE_LOCAL) {
        return mam_store_local_publish(st, dir, prefix, err, len);
    }
    return mam_store_upload_tree(st, dir, prefix, last, err, len);
}


/* --- multipart ------------------------------------------------------------ */

static const char *
mam_store_multipart_bucket(const mam_store_t *st, const char *key)
{
    if (st->kind != MAM_STORE_S3) {
        errno = ENOTSUP;
        return NULL;
    }
    return mam_store_s3_bucket(st, key);
}

int
mam_store_multipart_create(const mam_store_t *st, const char *key,
    const char *content_type, char *upload_id, size_t size)
{
    size_t             n = 0;
    const char        *bucket;
    mam_sigv4_pair_t   h[4];

    bucket = mam_store_multipart_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }

    if (mam_store_s3_write_headers(st, key, content_type, h, &n,
                                   sizeof(h) / sizeof(h[0]))
        != 0
        || mam_s3_multipart_create(&st->s3, bucket, key, h, n, upload_id,
                                   size)
           != 0)
    {
        return mam_store_s3_error();
    }
    return MAM_STORAGE_OK;
}

int
mam_store_multipart_list(const mam_store_t *st, const char *key,
    const char *upload_id, mam_s3_part_t *parts, size_t max, size_t *n)
{
    int          rc;
    const char  *bucket;

    *n = 0;

    bucket = mam_store_multipart_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }

    rc = mam_s3_multipart_list(&st->s3, bucket, key, upload_id, parts, max,
                               n);
    if (rc == -2) {
        return MAM_STORAGE_MISSING;
    }
    return rc == 0 ? MAM_STORAGE_OK : mam_store_s3_error();
}

/* the parts are 1..n, each of part_size but the last, total bytes */
static int
mam_store_parts_whole(const mam_s3_part_t *parts, size_t n, off_t total,
    off_t part_size)
{
    off_t   sum;
    size_t  i;

    for (i = 0, sum = 0; i < n; i++) {
        if (parts[i].number != (int) i + 1
            || (i + 1 < n && parts[i].size != part_size))
        {
            return 0;
        }
        sum += parts[i].size;
    }

    return n > 0 && sum == total;
}

int
mam_store_multipart_complete(const mam_store_t *st, const char *key,
    const char *upload_id, off_t total, off_t part_size,
    mam_s3_part_t *parts, size_t max, size_t *n, off_t *size)
{
    int          rc;
    long         status;
    const char  *bucket;

    *size = -1;

    rc = mam_store_multipart_list(st, key, upload_id, parts, max, n);
    if (rc != MAM_STORAGE_OK) {
        return rc;
    }

    if (!mam_store_parts_whole(parts, *n, total, part_size)) {
        return MAM_PARTIAL_CONFLICT;
    }

    bucket = mam_store_bucket(st, key);

    if (mam_s3_multipart_complete(&st->s3, bucket, key, upload_id, parts, *n)
        != 0
        || mam_store_s3_call(st, "HEAD", bucket, key, &status, size) != 0
        || status != 200)
    {
        *size = -1;
        return mam_store_s3_error();
    }
    return MAM_STORAGE_OK;
}

int
mam_store_multipart_abort(const mam_store_t *st, const char *key,
    const char *upload_id)
{
    const char  *bucket;

    bucket = mam_store_multipart_bucket(st, key);
    if (bucket == NULL) {
        return MAM_STORAGE_ERROR;
    }

    return mam_s3_multipart_abort(&st->s3, bucket, key, upload_id) == 0
           ? MAM_STORAGE_OK : mam_store_s3_error();
}
