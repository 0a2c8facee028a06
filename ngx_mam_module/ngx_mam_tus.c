/*
 * tus 1.0 (core, creation, expiration, checksum, termination) on the
 * mam_upload location, for resumable uploads on local storage.
 *
 * The URL is the presigned one ({prefix}{id}?expires=&sig=), its signature
 * covering the owner: every request but OPTIONS carries the owner's access
 * token, so a leaked URL is useless to anybody else, and passes the API's
 * gate (ngx_mam_auth.c: the user's status and authz_version, the editor
 * role, rate limits).  Each PATCH is checked before its body is read: its
 * Upload-Offset and Content-Length against the presigned length (without
 * overflow), then the partial's exclusive lock is taken without waiting
 * (423 while another request holds it) and its length compared with the
 * offset (409).  Holding the lock, the chunk is received whole into nginx's
 * client body temp file, then appended on the thread pool after its
 * checksum was checked (mam_partial.c): a chunk lands completely or not at
 * all, and two PATCHes never interleave nor buffer two bodies.  The last
 * chunk places the file at the staging key exactly like a single PUT.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_storage.h"


#define NGX_MAM_TUS_VERSION     "1.0.0"
#define NGX_MAM_TUS_EXTENSIONS  "creation,expiration,checksum,termination"
#define NGX_MAM_TUS_CHECKSUMS   "sha1,sha256"
#define NGX_MAM_TUS_METHODS     "OPTIONS, HEAD, PATCH, POST, DELETE, PUT"


typedef struct {
    ngx_mam_ctx_t            gate;       /* first: the gate's, with the user */
    char                     id[MAM_UUID_LEN + 1];
    time_t                   expires;
    off_t                    length;     /* Upload-Length: the presigned */
    off_t                    offset;     /* PATCH: Upload-Offset */
    off_t                    create;     /* POST: Upload-Length asked */
    const char              *staging_key;
    ngx_mam_storage_op_t     op;
} ngx_mam_tus_t;


static ngx_int_t
ngx_mam_tus_header(ngx_http_request_t *r, const char *name, const char *fmt,
    ...)
{
    u_char     *p;
    va_list     args;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    value.data = p;
    value.len = ngx_vslprintf(p, p + 64, fmt, args) - p;
    va_end(args);

    return ngx_mam_add_header(r, name, &value);
}


/* expiration extension: when the presigned URL stops working */
static ngx_int_t
ngx_mam_tus_expires(ngx_http_request_t *r, time_t expires)
{
    ngx_str_t  value;

    value.data = ngx_pnalloc(r->pool, sizeof("Mon, 28 Sep 1970 06:00:00 GMT"));
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_http_time(value.data, expires) - value.data;

    return ngx_mam_add_header(r, "Upload-Expires", &value);
}


static ngx_int_t ngx_mam_tus_gated(ngx_http_request_t *r,
    ngx_mam_ctx_t *ctx);


/* the gate's view of every tus request: uploading is the editor's */
static const ngx_mam_route_t  ngx_mam_tus_route = {
    NGX_HTTP_HEAD|NGX_HTTP_PATCH|NGX_HTTP_POST|NGX_HTTP_DELETE,
    "/upload/", ngx_mam_tus_gated, NGX_MAM_EDITOR, NGX_MAM_WINDOW_API, 0,
    NULL
};


/* a refusal before the body was read: it is discarded, never buffered */
static ngx_int_t
ngx_mam_tus_reject(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_mam_discard_unread_body(r);

    return ngx_mam_send_error(r, status, message);
}


/* a success without a body: 200 (HEAD), 201 (POST) or 204 */
static ngx_int_t
ngx_mam_tus_send(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_int_t  rc;

    if (ngx_mam_tus_header(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* HEAD, POST and DELETE take no body */
    ngx_mam_discard_unread_body(r);

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


static void
ngx_mam_tus_finish(ngx_http_request_t *r, ngx_uint_t status, off_t offset)
{
    if (offset >= 0
        && ngx_mam_tus_header(r, "Upload-Offset", "%O", offset) != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_tus_send(r, status));
}


/* the storage answer to a tus one, with the true offset on a conflict */
static void
ngx_mam_tus_storage_fail(ngx_http_request_t *r, ngx_mam_tus_t *t)
{
    switch (t->op.rc) {

    case MAM_PARTIAL_CONFLICT:
    case MAM_STORAGE_MISSING:
        (void) ngx_mam_tus_header(r, "Upload-Offset", "%O",
                                  t->op.rc == MAM_STORAGE_MISSING
                                  ? (off_t) 0 : t->op.size);
        ngx_mam_fail(r, NGX_HTTP_CONFLICT, ngx_mam_message(r->pool,
                     "Upload-Offset must be %O", t->op.rc == MAM_STORAGE_MISSING
                     ? (off_t) 0 : t->op.size));
        return;

    case MAM_PARTIAL_LOCKED:
        ngx_mam_fail(r, 423, NULL);
        return;

    case MAM_PARTIAL_CHECKSUM:
        (void) ngx_mam_tus_header(r, "Upload-Offset", "%O", t->offset);
        ngx_mam_fail(r, 460, NULL);
        return;

    case MAM_PARTIAL_TOO_LARGE:
        ngx_mam_fail(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                     "the chunk goes past Upload-Length");
        return;

    case MAM_STORAGE_EXISTS:
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the key already holds a complete upload");
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, t->op.err,
                  "mam: tus upload %s: storage operation %d failed",
                  t->id, (int) t->op.op);
    ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
}


/* the operation on the thread pool; done() finalizes the request */
static void
ngx_mam_tus_storage(ngx_http_request_t *r, ngx_mam_tus_t *t,
    ngx_mam_storage_op_e op, ngx_mam_thread_done_pt done)
{
    t->op.op = op;
    t->op.key = t->staging_key;
    t->op.data = t;

    if (ngx_mam_storage_run(r, &t->op, done) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* --- HEAD ------------------------------------------------------------------ */

static void
ngx_mam_tus_offset_done(ngx_http_request_t *r, void *data)
{
    ngx_mam_tus_t  *t = ((ngx_mam_storage_op_t *) data)->data;

    if (t->op.rc != MAM_STORAGE_OK && t->op.rc != MAM_STORAGE_MISSING) {
        ngx_mam_tus_storage_fail(r, t);
        return;
    }

    ngx_mam_tus_finish(r, NGX_HTTP_OK,
                       t->op.rc == MAM_STORAGE_OK ? t->op.size : 0);
}


/* --- PATCH ----------------------------------------------------------------- */

/* what mam_upload_complete() refuses with */
static const ngx_mam_outcome_t  ngx_mam_tus_complete_outcomes[] = {
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT,
      "the key already holds a complete upload", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


static void
ngx_mam_tus_completed(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_mam_tus_t  *t = data;

    if (ngx_mam_outcome_ok(r, res, ngx_mam_tus_complete_outcomes) == NULL) {
        return;
    }

    ngx_mam_tus_finish(r, NGX_HTTP_NO_CONTENT, t->length);
}


/* the partial's lock: let go once the chunk is appended, at the latest
 * with the request */
static void
ngx_mam_tus_unlock(void *data)
{
    ngx_mam_tus_t  *t = data;

    if (t->op.fd >= 0) {
        (void) close(t->op.fd);
        t->op.fd = -1;
    }
}


static void
ngx_mam_tus_appended(ngx_http_request_t *r, void *data)
{
    const char     **values;
    ngx_mam_tus_t   *t = ((ngx_mam_storage_op_t *) data)->data;

    /* before the answer: the client's next PATCH finds it free */
    ngx_mam_tus_unlock(t);

    if (t->op.rc != MAM_STORAGE_OK) {
        ngx_mam_tus_storage_fail(r, t);
        return;
    }

    if (t->op.size < t->length) {
        ngx_mam_tus_finish(r, NGX_HTTP_NO_CONTENT, t->op.size);
        return;
    }

    /* the last byte: the file is at the staging key */
    values = ngx_palloc(r->pool, sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = t->id;

    if (ngx_mam_pg_query(r, "SELECT mam_upload_complete($1)", 1, values,
                         ngx_mam_tus_completed, t)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* the whole chunk is in the temp file */
static void
ngx_mam_tus_body(ngx_http_request_t *r)
{
    ngx_temp_file_t  *tf;
    ngx_mam_tus_t    *t;

    t = ngx_http_get_module_ctx(r, ngx_mam_upload_module);

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL
        || tf->file.offset != r->headers_in.content_length_n)
    {
        ngx_mam_fail(r, NGX_HTTP_BAD_REQUEST,
                     "the chunk does not have its Content-Length");
        return;
    }

    /* under the lock taken before the body was read */
    t->op.file = (const char *) tf->file.name.data;
    t->op.offset = t->offset;
    t->op.total = t->length;

    ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_APPEND,
                        ngx_mam_tus_appended);
}


/* the partial is locked at the offset: now the body may come */
static void
ngx_mam_tus_locked(ngx_http_request_t *r, void *data)
{
    ngx_int_t       rc;
    ngx_mam_tus_t  *t = ((ngx_mam_storage_op_t *) data)->data;

    if (t->op.rc != MAM_STORAGE_OK) {
        /* 423 another request holds it, 409 a wrong offset: the body is
         * discarded unread */
        ngx_mam_tus_storage_fail(r, t);
        return;
    }

    t->op.locked = 1;

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_log_level = 0;

    rc = ngx_http_read_client_request_body(r, ngx_mam_tus_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the body reading holds the request now */
    ngx_http_finalize_request(r, NGX_DONE);
}


static void
ngx_mam_tus_patch(ngx_http_request_t *r, ngx_mam_tus_t *t)
{
    off_t                n;
    ngx_pool_cleanup_t  *cln;

    n = r->headers_in.content_length_n;

    /* before the body is read, without overflow: 0 <= offset, n */
    if (t->offset > t->length || n > t->length - t->offset) {
        ngx_http_finalize_request(r, ngx_mam_tus_reject(r,
                                  NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  ngx_mam_message(r->pool, "Upload-Length is "
                                                  "%O bytes", t->length)));
        return;
    }

    if (n == 0) {
        /* nothing to append: the offset is only reported */
        ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_OFFSET,
                            ngx_mam_tus_offset_done);
        return;
    }

    /* the lock first, never waited for: a second PATCH is refused (423)
     * before its body is read, and so is one at a wrong offset (409) */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, ngx_mam_tus_reject(r,
                                  NGX_HTTP_INTERNAL_SERVER_ERROR, NULL));
        return;
    }

    cln->handler = ngx_mam_tus_unlock;
    cln->data = t;

    t->op.offset = t->offset;

    ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_LOCK,
                        ngx_mam_tus_locked);
}


/* --- POST (creation) and DELETE (termination) ------------------------- */

static void
ngx_mam_tus_created(ngx_http_request_t *r, void *data)
{
    ngx_mam_tus_t  *t = ((ngx_mam_storage_op_t *) data)->data;

    if (t->op.rc == MAM_STORAGE_EXISTS && t->op.size > 0) {
        (void) ngx_mam_tus_header(r, "Upload-Offset", "%O", t->op.size);
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the upload has begun: resume it (HEAD, then PATCH)");
        return;
    }

    if (t->op.rc != MAM_STORAGE_OK && t->op.rc != MAM_STORAGE_EXISTS) {
        ngx_mam_tus_storage_fail(r, t);
        return;
    }

    /* the upload's URL is the presigned one */
    if (ngx_mam_add_header(r, "Location", &r->unparsed_uri) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_mam_tus_finish(r, NGX_HTTP_CREATED, -1);
}


static void
ngx_mam_tus_removed(ngx_http_request_t *r, void *data)
{
    ngx_mam_tus_t  *t = ((ngx_mam_storage_op_t *) data)->data;

    if (t->op.rc != MAM_STORAGE_OK) {
        ngx_mam_tus_storage_fail(r, t);
        return;
    }

    ngx_mam_upload_terminate(r, t->id, t->gate.user.sub);
}


/* --- the upload's record decides ------------------------------------------ */

/* NGX_OK for a pending upload of this user; else the status, *message */
static ngx_int_t
ngx_mam_tus_check(ngx_http_request_t *r, ngx_mam_tus_t *t, json_t *v,
    const char **message)
{
    json_t      *size, *key;
    const char  *owner;

    *message = NULL;

    if (ngx_mam_outcome(v) == MAM_OUTCOME_MISSING) {
        *message = "unknown upload";
        return NGX_HTTP_NOT_FOUND;
    }

    owner = json_string_value(json_object_get(v, "user_id"));
    size = json_object_get(v, "size");
    key = json_object_get(v, "staging_key");

    if (owner == NULL || !json_is_integer(size) || !json_is_string(key)) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the signature says so already; the record agrees or nothing goes */
    if (ngx_strcmp(owner, t->gate.user.sub) != 0
        || !json_is_true(json_object_get(v, "resumable")))
    {
        *message = "invalid upload signature";
        return NGX_HTTP_FORBIDDEN;
    }

    t->length = (off_t) json_integer_value(size);
    t->staging_key = json_string_value(key);

    if (ngx_mam_tus_header(r, "Upload-Length", "%O", t->length) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_mam_upload_pending(v, message);
}


static void
ngx_mam_tus_state(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t         *v;
    ngx_int_t       rc;
    const char     *message;
    ngx_mam_tus_t  *t = data;

    v = ngx_mam_pg_json(r->pool, res);
    if (v == NULL) {
        ngx_http_finalize_request(r, ngx_mam_tus_reject(r,
                                  res ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                      : NGX_HTTP_SERVICE_UNAVAILABLE, NULL));
        return;
    }

    rc = ngx_mam_tus_check(r, t, v, &message);

    /* a finished upload still answers HEAD: a client whose last PATCH
     * answer was lost learns that it is complete */
    if (rc == NGX_HTTP_CONFLICT && r->method == NGX_HTTP_HEAD) {
        ngx_mam_tus_finish(r, NGX_HTTP_OK, t->length);
        return;
    }

    if (rc != NGX_OK) {
        if (rc == NGX_HTTP_CONFLICT) {
            (void) ngx_mam_tus_header(r, "Upload-Offset", "%O", t->length);
        }
        ngx_http_finalize_request(r, ngx_mam_tus_reject(r, rc, message));
        return;
    }

    switch (r->method) {

    case NGX_HTTP_HEAD:
        ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_OFFSET,
                            ngx_mam_tus_offset_done);
        return;

    case NGX_HTTP_PATCH:
        ngx_mam_tus_patch(r, t);
        return;

    case NGX_HTTP_POST:
        if (t->create != t->length) {
            ngx_http_finalize_request(r, ngx_mam_tus_reject(r,
                t->create > t->length ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                                      : NGX_HTTP_BAD_REQUEST,
                ngx_mam_message(r->pool, "Upload-Length must be the "
                                "presigned %O bytes", t->length)));
            return;
        }
        ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_CREATE,
                            ngx_mam_tus_created);
        return;

    default: /* DELETE */
        ngx_mam_tus_storage(r, t, NGX_MAM_STORAGE_PARTIAL_REMOVE,
                            ngx_mam_tus_removed);
        return;
    }
}


/* --- the request's own headers, before any I/O -------------------------- */

static ngx_table_elt_t *
ngx_mam_tus_find(ngx_http_request_t *r, const char *name)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    ngx_uint_t        i;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_strcasecmp(h[i].key.data, (u_char *) name) == 0) {
            return &h[i];
        }
    }
}


/* a non-negative decimal header value, or -1 */
static off_t
ngx_mam_tus_number(ngx_http_request_t *r, const char *name)
{
    ngx_table_elt_t  *h;

    h = ngx_mam_tus_find(r, name);

    if (h == NULL || h->value.len == 0 || h->value.len > 18) {
        return -1;
    }

    return ngx_atoof(h->value.data, h->value.len);
}


/* PATCH: NGX_OK, or the status to refuse it with and *message */
static ngx_int_t
ngx_mam_tus_patch_headers(ngx_http_request_t *r, ngx_mam_tus_t *t,
    const char **message)
{
    int                   rc;
    ngx_table_elt_t      *h;
    ngx_mam_main_conf_t  *mcf;

    static ngx_str_t  type = ngx_string("application/offset+octet-stream");

    h = r->headers_in.content_type;
    if (h == NULL || h->value.len != type.len
        || ngx_strncasecmp(h->value.data, type.data, type.len) != 0)
    {
        *message = "Content-Type must be application/offset+octet-stream";
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    t->offset = ngx_mam_tus_number(r, "Upload-Offset");
    if (t->offset < 0) {
        *message = "Upload-Offset: a number is required";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (r->headers_in.content_length_n < 0) {
        *message = NULL;
        return NGX_HTTP_LENGTH_REQUIRED;
    }

    /* no upload is larger: refused before any I/O, without overflow */
    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (t->offset > mcf->upload_max_size
        || r->headers_in.content_length_n > mcf->upload_max_size - t->offset)
    {
        *message = ngx_mam_message(r->pool, "uploads are at most %O bytes",
                                   mcf->upload_max_size);
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    h = ngx_mam_tus_find(r, "Upload-Checksum");
    if (h != NULL) {
        rc = mam_checksum_parse((char *) h->value.data, h->value.len,
                                &t->op.sum);
        if (rc != 0) {
            *message = rc == -2 ? "Upload-Checksum: sha1 or sha256 only"
                                : "Upload-Checksum: \"{algorithm} {base64}\"";
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_mam_tus_options(ngx_http_request_t *r)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (ngx_mam_tus_header(r, "Tus-Version", NGX_MAM_TUS_VERSION) != NGX_OK
        || ngx_mam_tus_header(r, "Tus-Extension", NGX_MAM_TUS_EXTENSIONS)
           != NGX_OK
        || ngx_mam_tus_header(r, "Tus-Max-Size", "%O", mcf->upload_max_size)
           != NGX_OK
        || ngx_mam_tus_header(r, "Tus-Checksum-Algorithm",
                              NGX_MAM_TUS_CHECKSUMS) != NGX_OK
        || ngx_mam_tus_header(r, "Allow", NGX_MAM_TUS_METHODS) != NGX_OK)
    {
        return ngx_mam_tus_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_mam_tus_send(r, NGX_HTTP_NO_CONTENT);
}


/* the method's own headers: NGX_OK, or the status to refuse it with */
static ngx_int_t
ngx_mam_tus_request(ngx_http_request_t *r, ngx_mam_tus_t *t,
    const char **message)
{
    *message = NULL;

    if (r->method == NGX_HTTP_PATCH) {
        return ngx_mam_tus_patch_headers(r, t, message);
    }

    if (r->method == NGX_HTTP_POST) {
        if (ngx_mam_tus_find(r, "Upload-Defer-Length") != NULL) {
            *message = "Upload-Defer-Length: the length is the presigned";
            return NGX_HTTP_BAD_REQUEST;
        }
        t->create = ngx_mam_tus_number(r, "Upload-Length");
        if (t->create < 0) {
            *message = "Upload-Length: a number is required";
            return NGX_HTTP_BAD_REQUEST;
        }
        /* creation-with-upload is not offered: bytes come by PATCH */
        if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
            *message = "creation takes no body: send the bytes by PATCH";
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_tus_handler(ngx_http_request_t *r)
{
    ngx_int_t          rc;
    const char        *message;
    ngx_table_elt_t   *h;
    ngx_mam_tus_t     *t;

    if (ngx_mam_tus_header(r, "Tus-Resumable", NGX_MAM_TUS_VERSION)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_mam_tus_options(r);
    }

    if (!(r->method
          & (NGX_HTTP_HEAD|NGX_HTTP_PATCH|NGX_HTTP_POST|NGX_HTTP_DELETE)))
    {
        (void) ngx_mam_tus_header(r, "Allow", NGX_MAM_TUS_METHODS);
        return ngx_mam_tus_reject(r, NGX_HTTP_NOT_ALLOWED, NULL);
    }

    h = ngx_mam_tus_find(r, "Tus-Resumable");
    if (h == NULL || h->value.len != sizeof(NGX_MAM_TUS_VERSION) - 1
        || ngx_strncmp(h->value.data, NGX_MAM_TUS_VERSION,
                       sizeof(NGX_MAM_TUS_VERSION) - 1) != 0)
    {
        (void) ngx_mam_tus_header(r, "Tus-Version", NGX_MAM_TUS_VERSION);
        return ngx_mam_tus_reject(r, NGX_HTTP_PRECONDITION_FAILED, NULL);
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_mam_tus_t));
    if (t == NULL) {
        return ngx_mam_tus_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    t->op.fd = -1;

    rc = ngx_mam_auth_bearer(r, &t->gate.user);
    if (rc != NGX_OK) {
        return ngx_mam_tus_reject(r, NGX_HTTP_UNAUTHORIZED,
                                  rc == NGX_DECLINED
                                  ? "the owner's access token is required"
                                  : "invalid or expired access token");
    }

    rc = ngx_mam_upload_verify(r, t->id, t->gate.user.sub, &t->expires);
    if (rc != NGX_OK) {
        return ngx_mam_tus_reject(r, rc,
                   rc == NGX_HTTP_FORBIDDEN ? "invalid upload signature"
                   : rc == NGX_HTTP_GONE ? "the upload URL has expired"
                   : NULL);
    }

    if (ngx_mam_tus_expires(r, t->expires) != NGX_OK) {
        return ngx_mam_tus_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    rc = ngx_mam_tus_request(r, t, &message);
    if (rc != NGX_OK) {
        return ngx_mam_tus_reject(r, rc, message);
    }

    ngx_http_set_ctx(r, t, ngx_mam_upload_module);

    /* the API's gate: the user's status and authz_version, the role, the
     * rate limits; then ngx_mam_tus_gated(), or the refusal (its tus
     * headers are set already) */
    t->gate.route = &ngx_mam_tus_route;

    r->main->count++;

    ngx_mam_auth_gate(r, &t->gate);

    return NGX_DONE;
}


/* the gate let the request through: the upload's record */
static ngx_int_t
ngx_mam_tus_gated(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char     **values;
    ngx_mam_tus_t   *t = (ngx_mam_tus_t *) ctx;

    values = ngx_palloc(r->pool, sizeof(char *));
    if (values == NULL) {
        return ngx_mam_tus_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = t->id;

    if (ngx_mam_pg_query(r, "SELECT mam_upload_state($1)", 1, values,
                         ngx_mam_tus_state, t)
        != NGX_OK)
    {
        return ngx_mam_tus_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
