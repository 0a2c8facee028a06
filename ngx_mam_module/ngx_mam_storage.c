/*
 * The storage backends, on the thread pool: local files under
 * mam_storage_root, or S3 (mam_s3_*) where each key's area picks its
 * bucket.  S3 promotes are a server-side copy that never overwrites (an
 * existence check, and If-None-Match where the service honours it), then
 * the staging object is deleted.
 */

#include "ngx_mam_storage.h"

#include <stdlib.h>
#include <string.h>


/* --- S3 --------------------------------------------------------------------- */

static int
ngx_mam_s3_status(const ngx_mam_storage_op_t *op, const char *method,
    const char *bucket, const char *key, long *status, off_t *size)
{
    mam_s3_req_t  req;

    ngx_memzero(&req, sizeof(req));
    req.method = method;
    req.bucket = bucket;
    req.key = key;

    if (mam_s3_perform(op->s3, &req) != 0) {
        return -1;
    }
    *status = req.status;
    if (size) {
        *size = req.content_length;
    }
    return 0;
}

static int
ngx_mam_s3_promote(ngx_mam_storage_op_t *op)
{
    long          status;
    char          source[2400];
    mam_s3_req_t  req;

    if (ngx_mam_s3_status(op, "HEAD", op->bucket, op->key, &status, NULL)
        != 0)
    {
        return MAM_STORAGE_ERROR;
    }
    if (status == 200) {
        return MAM_STORAGE_EXISTS;       /* write-once */
    }

    source[0] = '/';
    ngx_cpystrn((u_char *) source + 1, (u_char *) op->from_bucket, 256);
    ngx_cpystrn((u_char *) source + ngx_strlen(source), (u_char *) "/", 2);
    if (mam_sigv4_uri_encode(op->from_key, ngx_strlen(op->from_key), 1,
                             source + ngx_strlen(source),
                             sizeof(source) - ngx_strlen(source)) < 0)
    {
        return MAM_STORAGE_ERROR;
    }

    ngx_memzero(&req, sizeof(req));
    req.method = "PUT";
    req.bucket = op->bucket;
    req.key = op->key;
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "x-amz-copy-source",
                                                       source };
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "if-none-match", "*" };
    if (op->object_lock) {
        req.headers[req.nheaders++] = (mam_sigv4_pair_t) {
            "x-amz-object-lock-legal-hold", "ON" };
    }
    /* the master is encrypted at rest as configured (a copy does not
     * inherit the source's encryption unless asked) */
    if (mam_s3_sse_headers(op->s3, req.headers, &req.nheaders,
                           sizeof(req.headers) / sizeof(req.headers[0]))
        != 0)
    {
        return MAM_STORAGE_ERROR;
    }

    if (mam_s3_perform(op->s3, &req) != 0) {
        return MAM_STORAGE_ERROR;
    }
    if (req.status == 404) {
        return MAM_STORAGE_MISSING;
    }
    if (req.status == 412) {
        return MAM_STORAGE_EXISTS;
    }
    if (req.status != 200) {
        return MAM_STORAGE_ERROR;
    }

    /* the master is there; the staging object may go */
    (void) ngx_mam_s3_status(op, "DELETE", op->from_bucket, op->from_key,
                             &status, NULL);
    return MAM_STORAGE_OK;
}

/* the text of each <Key> of a ListObjectsV2 answer, entities decoded */
static char *
ngx_mam_s3_next_key(char **pos, char *out, size_t size)
{
    char    *p, *e;
    size_t   n = 0;

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
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) == 0) { out[n++] = '&'; p += 5; continue; }
            if (strncmp(p, "&lt;", 4) == 0) { out[n++] = '<'; p += 4; continue; }
            if (strncmp(p, "&gt;", 4) == 0) { out[n++] = '>'; p += 4; continue; }
            if (strncmp(p, "&quot;", 6) == 0) { out[n++] = '"'; p += 6; continue; }
            if (strncmp(p, "&apos;", 6) == 0) { out[n++] = '\''; p += 6; continue; }
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static int
ngx_mam_s3_remove_tree(ngx_mam_storage_op_t *op)
{
    int           round;
    long          status;
    char         *body, *pos, key[1100], prefix[1100];
    mam_s3_req_t  req;

    body = malloc(1 << 20);
    if (body == NULL) {
        return MAM_STORAGE_ERROR;
    }
    ngx_cpystrn((u_char *) prefix, (u_char *) op->key, sizeof(prefix) - 1);
    ngx_cpystrn((u_char *) prefix + ngx_strlen(prefix), (u_char *) "/", 2);

    /* list and delete until nothing is left (bounded: 1000 keys a round) */
    for (round = 0; round < 1000; round++) {
        ngx_memzero(&req, sizeof(req));
        req.method = "GET";
        req.bucket = op->bucket;
        req.key = "";
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "list-type", "2" };
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "prefix", prefix };
        req.body = body;
        req.body_size = 1 << 20;

        if (mam_s3_perform(op->s3, &req) != 0 || req.status != 200) {
            free(body);
            return MAM_STORAGE_ERROR;
        }

        pos = body;
        if (ngx_mam_s3_next_key(&pos, key, sizeof(key)) == NULL) {
            break;
        }
        do {
            if (ngx_mam_s3_status(op, "DELETE", op->bucket, key, &status,
                                  NULL) != 0)
            {
                free(body);
                return MAM_STORAGE_ERROR;
            }
        } while (ngx_mam_s3_next_key(&pos, key, sizeof(key)) != NULL);
    }

    free(body);
    return MAM_STORAGE_OK;
}

#define NGX_MAM_S3_MAX_PARTS  10000


/* the listed parts are 1..n, each of part_size but the last, total bytes */
static ngx_uint_t
ngx_mam_s3_parts_whole(ngx_mam_storage_op_t *op)
{
    off_t   sum;
    size_t  i;

    for (i = 0, sum = 0; i < op->nparts; i++) {
        if (op->parts[i].number != (int) i + 1
            || (i + 1 < op->nparts && op->parts[i].size != op->part_size))
        {
            return 0;
        }
        sum += op->parts[i].size;
    }

    return op->nparts > 0 && sum == op->total;
}


static int
ngx_mam_s3_multipart(ngx_mam_storage_op_t *op)
{
    int               rc;
    long              status;
    off_t             size;
    size_t            n;
    mam_sigv4_pair_t  h[3];

    switch (op->op) {

    case NGX_MAM_STORAGE_MULTIPART_CREATE:
        /* encryption is named here, for the whole object: S3 refuses the
         * SSE headers on the browser's part PUTs */
        h[0] = (mam_sigv4_pair_t) { "content-type", op->content_type };
        n = 1;
        return mam_s3_sse_headers(op->s3, h, &n, 3) == 0
               && mam_s3_multipart_create(op->s3, op->bucket, op->key, h, n,
                                          op->upload_id,
                                          sizeof(op->upload_id))
                  == 0
               ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;

    case NGX_MAM_STORAGE_MULTIPART_ABORT:
        return mam_s3_multipart_abort(op->s3, op->bucket, op->key,
                                      op->upload_id) == 0
               ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;

    default:
        break;
    }

    rc = mam_s3_multipart_list(op->s3, op->bucket, op->key, op->upload_id,
                               op->parts, op->max_parts, &op->nparts);
    if (rc != 0) {
        return rc == -2 ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
    }

    if (op->op == NGX_MAM_STORAGE_MULTIPART_LIST) {
        return MAM_STORAGE_OK;
    }

    if (!ngx_mam_s3_parts_whole(op)) {
        return MAM_PARTIAL_CONFLICT;
    }

    if (mam_s3_multipart_complete(op->s3, op->bucket, op->key, op->upload_id,
                                  op->parts, op->nparts) != 0
        || ngx_mam_s3_status(op, "HEAD", op->bucket, op->key, &status, &size)
           != 0
        || status != 200)
    {
        return MAM_STORAGE_ERROR;
    }

    op->size = size;

    return MAM_STORAGE_OK;
}


static void
ngx_mam_storage_s3_work(ngx_mam_storage_op_t *op)
{
    long   status;
    off_t  size;

    switch (op->op) {

    case NGX_MAM_STORAGE_PROMOTE:
        op->rc = ngx_mam_s3_promote(op);
        break;

    case NGX_MAM_STORAGE_REMOVE:
        op->rc = ngx_mam_s3_status(op, "DELETE", op->bucket, op->key,
                                   &status, NULL) == 0
                 && (status == 204 || status == 200 || status == 404)
                 ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;
        break;

    case NGX_MAM_STORAGE_REMOVE_TREE:
        op->rc = ngx_mam_s3_remove_tree(op);
        break;

    case NGX_MAM_STORAGE_SIZE:
        if (ngx_mam_s3_status(op, "HEAD", op->bucket, op->key, &status,
                              &size) != 0)
        {
            op->rc = MAM_STORAGE_ERROR;
            break;
        }
        op->size = status == 200 ? size : -1;
        op->rc = (status == 200 || status == 404) ? MAM_STORAGE_OK
                                                  : MAM_STORAGE_ERROR;
        break;

    case NGX_MAM_STORAGE_MULTIPART_CREATE:
    case NGX_MAM_STORAGE_MULTIPART_LIST:
    case NGX_MAM_STORAGE_MULTIPART_COMPLETE:
    case NGX_MAM_STORAGE_MULTIPART_ABORT:
        op->rc = ngx_mam_s3_multipart(op);
        break;

    default:
        /* uploads go straight to S3: nothing to place */
        op->rc = MAM_STORAGE_ERROR;
    }

    if (op->rc == MAM_STORAGE_ERROR) {
        op->err = EIO;
    }
}


/* --- local files -------------------------------------------------------- */


/* on a pool thread */
static void
ngx_mam_storage_work(void *data)
{
    off_t                  size;
    ngx_mam_storage_op_t  *op = data;

    op->err = 0;

    if (op->s3) {
        ngx_mam_storage_s3_work(op);
        return;
    }

    switch (op->op) {

    case NGX_MAM_STORAGE_PUT_FILE:
        op->rc = mam_local_place(op->file, op->path, 0644);
        break;

    case NGX_MAM_STORAGE_PROMOTE:
        op->rc = mam_local_place(op->from_path, op->path, 0444);
        if (op->rc == MAM_STORAGE_OK) {
            /* the master is durable; the staging name may go */
            (void) mam_local_remove(op->from_path);
        }
        break;

    case NGX_MAM_STORAGE_REMOVE:
        op->rc = mam_local_remove(op->path);
        break;

    case NGX_MAM_STORAGE_REMOVE_TREE:
        op->rc = mam_local_remove_tree(op->path);
        break;

    case NGX_MAM_STORAGE_SIZE:
        size = mam_local_size(op->path);
        op->size = size;
        op->rc = MAM_STORAGE_OK;
        break;

    case NGX_MAM_STORAGE_PARTIAL_CREATE:
        op->rc = mam_partial_create(op->from_path, &op->size);
        break;

    case NGX_MAM_STORAGE_PARTIAL_OFFSET:
        op->rc = mam_partial_offset(op->from_path, &op->size);
        break;

    case NGX_MAM_STORAGE_PARTIAL_APPEND:
        op->rc = op->locked
                 ? mam_partial_append_locked(op->fd, op->from_path, op->file,
                                             op->offset, op->total, &op->sum,
                                             op->path, &op->size)
                 : mam_partial_append(op->from_path, op->file, op->offset,
                                      op->total, &op->sum, op->path,
                                      &op->size);
        break;

    case NGX_MAM_STORAGE_PARTIAL_LOCK:
        op->rc = mam_partial_lock(op->from_path, op->offset, &op->fd,
                                  &op->size);
        break;

    case NGX_MAM_STORAGE_PARTIAL_REMOVE:
        op->rc = mam_partial_remove(op->from_path);
        break;

    default:
        op->rc = MAM_STORAGE_ERROR;
    }

    if (op->rc == MAM_STORAGE_ERROR) {
        op->err = ngx_errno;
    }
}


static char *
ngx_mam_storage_path(ngx_pool_t *pool, const char *key)
{
    char                 *path;
    size_t                len;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (key == NULL) {
        return NULL;
    }

    len = mcf->storage_root.len + 1 + ngx_strlen(key) + 1;
    path = ngx_pnalloc(pool, len);
    if (path == NULL) {
        return NULL;
    }

    if (ngx_strncmp(mcf->storage_root.data, "/", 1) != 0
        || mam_local_path(path, len, (char *) mcf->storage_root.data, key)
           != 0)
    {
        return NULL;
    }

    return path;
}


/* the bucket of a key's area */
const char *
ngx_mam_storage_bucket(ngx_pool_t *pool, const char *key)
{
    ngx_uint_t            i;
    ngx_mam_main_conf_t  *mcf;

    static const char  *areas[] = {
        MAM_AREA_UPLOADS, MAM_AREA_MASTERS, MAM_AREA_PREVIEWS
    };

    mcf = ngx_mam_main_conf();

    for (i = 0; i < 3; i++) {
        if (ngx_strncmp(key, areas[i], ngx_strlen(areas[i])) == 0) {
            return ngx_mam_cstr(pool, &mcf->s3_bucket[i]);
        }
    }
    return NULL;
}


/* keys become paths (or buckets) here, in the event loop, where the pool
 * may be used */
static ngx_int_t
ngx_mam_storage_prepare(ngx_pool_t *pool, ngx_log_t *log,
    ngx_mam_storage_op_t *op)
{
    size_t                len;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (mcf->s3) {
        op->s3 = mcf->s3;
        op->object_lock = mcf->s3_object_lock;
        op->bucket = op->key ? ngx_mam_storage_bucket(pool, op->key) : NULL;
        op->from_bucket = op->from_key
                          ? ngx_mam_storage_bucket(pool, op->from_key) : NULL;
        if (op->bucket == NULL || !mam_key_valid(op->key,
                                                  ngx_strlen(op->key))
            || (op->op == NGX_MAM_STORAGE_PROMOTE && op->from_bucket == NULL))
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "mam: invalid storage key \"%s\"",
                          op->key ? op->key : "");
            return NGX_ERROR;
        }
        if (op->op == NGX_MAM_STORAGE_MULTIPART_LIST
            || op->op == NGX_MAM_STORAGE_MULTIPART_COMPLETE)
        {
            /* room for the parts the upload can have, not S3's 10000:
             * a part more than that fails the listing */
            op->max_parts = op->part_size > 0
                            ? (op->total + op->part_size - 1) / op->part_size
                            : 0;
            op->max_parts = ngx_max(op->max_parts, 1);
            op->max_parts = ngx_min(op->max_parts, NGX_MAM_S3_MAX_PARTS);
            op->parts = ngx_palloc(pool, op->max_parts
                                         * sizeof(mam_s3_part_t));
            if (op->parts == NULL) {
                return NGX_ERROR;
            }
        }
        return NGX_OK;
    }

    if (op->op >= NGX_MAM_STORAGE_MULTIPART_CREATE) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "mam: multipart uploads need S3 storage");
        return NGX_ERROR;
    }

    op->path = ngx_mam_storage_path(pool, op->key);
    if (op->path == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "mam: invalid storage key \"%s\"",
                      op->key ? op->key : "");
        return NGX_ERROR;
    }

    if (op->op == NGX_MAM_STORAGE_PROMOTE) {
        op->from_path = ngx_mam_storage_path(pool, op->from_key);
        if (op->from_path == NULL) {
            return NGX_ERROR;
        }
    }

    if (op->op >= NGX_MAM_STORAGE_PARTIAL_CREATE) {
        len = ngx_strlen(op->path) + sizeof(".partial");
        op->from_path = ngx_pnalloc(pool, len);
        if (op->from_path == NULL
            || mam_partial_path(op->from_path, len, op->path) != 0)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_storage_run(ngx_http_request_t *r, ngx_mam_storage_op_t *op,
    ngx_mam_thread_done_pt done)
{
    if (ngx_mam_storage_prepare(r->pool, r->connection->log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: storage task %d on \"%s\" (%s)", (int) op->op,
                   op->key ? op->key : "", op->s3 ? "s3" : "local");

    return ngx_mam_thread_run(r, op->s3 ? NGX_MAM_THREAD_S3
                                        : NGX_MAM_THREAD_FILES,
                              ngx_mam_storage_work, done, op);
}


ngx_int_t
ngx_mam_storage_run_task(ngx_pool_t *mem, ngx_log_t *log,
    ngx_mam_storage_op_t *op, ngx_mam_task_done_pt done)
{
    if (ngx_mam_storage_prepare(mem, log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_mam_thread_task(mem, op->s3 ? NGX_MAM_THREAD_S3
                                           : NGX_MAM_THREAD_FILES,
                               ngx_mam_storage_work, done, op);
}
