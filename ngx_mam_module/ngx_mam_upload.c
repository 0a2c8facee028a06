/*
 * Uploads: POST /api/presign records an upload and signs a PUT URL for the
 * mam_upload location; the PUT streams the body into nginx's client body
 * temp file (never the whole body in memory) and, only once it is
 * complete, places it at the staging key on the thread pool.
 *
 * URL: {prefix}{upload_id}?expires={unix}&sig={base64url HMAC-SHA256 of
 * "mam-upload\n{upload_id}\n{expires}" with the upload key}.  The size,
 * owner and key are in PostgreSQL, bound to the id.  The upload and tus
 * keys are derived from the signing key for that purpose alone (mam_key.h),
 * so neither a playback signature nor the edge key can make one.
 *
 * A resumable upload (request field "resumable", or a size from
 * mam_upload_resumable_threshold on) is the same record received in
 * pieces: on local storage a tus 1.0 URL of the same location whose
 * signature also covers the owner ("mam-tus\n{id}\n{user}\n{expires}",
 * the user being the access token's: ngx_mam_tus.c); on S3 an S3
 * multipart upload whose parts the browser PUTs straight to the bucket
 * (ngx_mam_multipart.c).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_storage.h"


#define NGX_MAM_UPLOAD_SIG_PREFIX  "mam-upload\n"
#define NGX_MAM_TUS_SIG_PREFIX     "mam-tus\n"
#define NGX_MAM_UPLOAD_MSG_LEN     (sizeof(NGX_MAM_UPLOAD_SIG_PREFIX)         \
                                    + 2 * MAM_UUID_LEN + NGX_TIME_T_LEN + 3)


typedef struct {
    char                     id[MAM_UUID_LEN + 1];
    char                    *staging_key;
    off_t                    size;
    ngx_mam_storage_op_t     op;
} ngx_mam_upload_t;


/* "mam-upload\n{id}\n{expires}", or for tus (user given)
 * "mam-tus\n{id}\n{user}\n{expires}", in buf (NGX_MAM_UPLOAD_MSG_LEN);
 * its length */
static size_t
ngx_mam_upload_message(u_char *buf, const char *id, const char *user,
    time_t expires)
{
    if (user) {
        return ngx_sprintf(buf, NGX_MAM_TUS_SIG_PREFIX "%s\n%s\n%T", id, user,
                           expires)
               - buf;
    }

    return ngx_sprintf(buf, NGX_MAM_UPLOAD_SIG_PREFIX "%s\n%T", id, expires)
           - buf;
}


/* the key of single PUT URLs (user NULL) or of tus URLs */
static ngx_str_t *
ngx_mam_upload_key(ngx_mam_main_conf_t *mcf, const char *user)
{
    return user ? &mcf->tus_key : &mcf->upload_key;
}


/* "{prefix}{id}?expires=...&sig=..." for a single PUT (user NULL) or tus */
static u_char *
ngx_mam_upload_sign(ngx_http_request_t *r, const char *id, const char *user,
    time_t expires)
{
    u_char               *msg, *url;
    size_t                len;
    char                  sig[MAM_SIG_LEN + 1];
    ngx_str_t            *key;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    key = ngx_mam_upload_key(mcf, user);

    msg = ngx_pnalloc(r->pool, NGX_MAM_UPLOAD_MSG_LEN);
    url = ngx_pnalloc(r->pool, mcf->upload_prefix.len + MAM_UUID_LEN
                               + sizeof("?expires=&sig=") + NGX_TIME_T_LEN
                               + MAM_SIG_LEN);
    if (msg == NULL || url == NULL) {
        return NULL;
    }

    len = ngx_mam_upload_message(msg, id, user, expires);

    if (key->len == 0 || mam_hmac_sign(key->data, key->len, msg, len, sig)
                         != 0)
    {
        return NULL;
    }

    *ngx_sprintf(url, "%V%s?expires=%T&sig=%s", &mcf->upload_prefix, id,
                 expires, sig) = '\0';

    return url;
}


/* --- POST /api/presign --------------------------------------------------- */

typedef struct {
    char                     *content_type;
    const char               *size;
    json_int_t                nsize;
    const char               *user;
    ngx_flag_t                resumable;
} ngx_mam_presign_t;


/* video/... or audio/... with a plausible subtype, lower-cased */
static char *
ngx_mam_presign_content_type(ngx_pool_t *pool, ngx_str_t *ct)
{
    u_char  *p, *slash, *out;

    if (ct->len < 7 || ct->len > 100) {
        return NULL;
    }

    out = ngx_pnalloc(pool, ct->len + 1);
    if (out == NULL) {
        return NULL;
    }

    ngx_strlow(out, ct->data, ct->len);
    out[ct->len] = '\0';

    if (ngx_strncmp(out, "video/", 6) != 0
        && ngx_strncmp(out, "audio/", 6) != 0)
    {
        return NULL;
    }

    slash = out + 5;
    if (slash[1] == '\0') {
        return NULL;
    }

    for (p = slash + 1; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '+' || *p == '-' || *p == '_'))
        {
            return NULL;
        }
    }

    return (char *) out;
}


/* a presigned S3 PUT of the staging key (pure computation, no I/O) */
static u_char *
ngx_mam_presign_s3(ngx_http_request_t *r, ngx_mam_presign_t *ps,
    const char *key)
{
    u_char               *url;
    const char           *bucket;
    size_t                n;
    mam_sigv4_pair_t      h[4];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    url = ngx_pnalloc(r->pool, 8192);
    bucket = key ? mam_store_bucket(mcf->store, key) : NULL;
    if (url == NULL || bucket == NULL) {
        return NULL;
    }

    h[0] = (mam_sigv4_pair_t) { "content-type", ps->content_type };
    h[1] = (mam_sigv4_pair_t) { "content-length", ps->size };
    n = 2;

    /* encryption at rest: the client must send the signed SSE headers,
     * which the answer's "headers" names (ngx_mam_presign_sse) */
    if (mam_s3_sse_headers(mcf->s3, h, &n, 4) != 0
        || mam_s3_presign(mcf->s3, "PUT", bucket, key, h, n,
                       (long) mcf->upload_url_ttl, (char *) url, 8192)
        != 0)
    {
        return NULL;
    }

    return url;
}


/* the SSE headers signed into a presigned S3 PUT, added to the answer's
 * "headers": the client sends each as given */
static ngx_int_t
ngx_mam_presign_sse(ngx_http_request_t *r, json_t *headers)
{
    size_t                i, n;
    mam_sigv4_pair_t      h[2];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    n = 0;
    if (headers == NULL || mam_s3_sse_headers(mcf->s3, h, &n, 2) != 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (json_object_set_new(headers, h[i].name, json_string(h[i].value))
            != 0)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* "9.5 GiB", "10 GiB", "512 bytes" (NGX_MAM_BYTES_LEN) */
#define NGX_MAM_BYTES_LEN  (NGX_OFF_T_LEN + sizeof(" bytes"))

static u_char *
ngx_mam_presign_bytes(u_char *buf, int64_t n)
{
    u_char      *p;
    double       v;
    ngx_uint_t   i;

    static const char  *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
                                    "EiB" };

    if (n < 1024) {
        return ngx_sprintf(buf, "%L bytes", n);
    }

    v = (double) n / 1024;
    for (i = 0; v >= 1023.95 && i < 5; i++) {
        v /= 1024;
    }

    p = ngx_sprintf(buf, "%.1f", v);
    if (p[-1] == '0' && p[-2] == '.') {
        p -= 2;
    }

    return ngx_sprintf(p, " %s", units[i]);
}


/* 413 beyond mam_user_quota or mam_uploads_pending, saying the quota */
static void
ngx_mam_presign_over(ngx_http_request_t *r, json_t *v, ngx_mam_presign_t *ps)
{
    u_char  *msg, *p;

    msg = ngx_pnalloc(r->pool, 3 * NGX_MAM_BYTES_LEN + 128);
    if (msg == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    if (ngx_mam_outcome(v) == MAM_OUTCOME_PENDING) {
        p = ngx_sprintf(msg, "quota exceeded: %L of %L pending uploads open;"
                        " finish or terminate one first",
                        (int64_t) json_integer_value(json_object_get(v,
                                                                     "open")),
                        (int64_t) json_integer_value(json_object_get(v,
                                                                 "pending")));

    } else {
        p = ngx_cpymem(msg, "quota exceeded: ",
                       sizeof("quota exceeded: ") - 1);
        p = ngx_mam_presign_bytes(p, json_integer_value(json_object_get(v,
                                                                    "used")));
        p = ngx_cpymem(p, " of ", 4);
        p = ngx_mam_presign_bytes(p, json_integer_value(json_object_get(v,
                                                                   "quota")));
        p = ngx_cpymem(p, " used, this upload needs ",
                       sizeof(" used, this upload needs ") - 1);
        p = ngx_mam_presign_bytes(p, ps->nsize);
    }

    *p = '\0';

    ngx_mam_fail(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, (char *) msg);
}


static void
ngx_mam_presign_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    u_char               *url;
    json_t               *v, *body;
    time_t                expires;
    const char           *id, *method;
    mam_outcome_t         outcome;
    ngx_mam_presign_t    *ps = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    v = ngx_mam_pg_json(r->pool, res);
    outcome = v ? ngx_mam_outcome(v) : MAM_OUTCOME_NONE;

    if (outcome == MAM_OUTCOME_QUOTA || outcome == MAM_OUTCOME_PENDING) {
        ngx_mam_presign_over(r, v, ps);
        return;
    }

    if (outcome != MAM_OUTCOME_OK) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    id = json_string_value(json_object_get(v, "id"));
    expires = (time_t) json_integer_value(json_object_get(v, "expires"));

    if (id == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    if (mcf->s3 && ps->resumable) {
        ngx_mam_multipart_start(r, v, ps->content_type, ps->nsize);
        return;
    }

    if (mcf->s3) {
        /* straight to the staging bucket, type and size signed */
        url = ngx_mam_presign_s3(r, ps, json_string_value(
                                     json_object_get(v, "staging_key")));
        method = "PUT";

    } else if (ps->resumable) {
        url = ngx_mam_upload_sign(r, id, ps->user, expires);
        method = "tus";

    } else {
        url = ngx_mam_upload_sign(r, id, NULL, expires);
        method = "PUT";
    }

    /* api.md's shape; a resumable upload also names its id and size */
    body = url ? json_pack("{s:s, s:s, s:{s:s}, s:O, s:O}",
                           "upload_url", (char *) url,
                           "method", method,
                           "headers", "Content-Type", ps->content_type,
                           "staging_key", json_object_get(v, "staging_key"),
                           "expires_at", json_object_get(v, "expires_at"))
               : NULL;

    if (body && mcf->s3
        && ngx_mam_presign_sse(r, json_object_get(body, "headers")) != NGX_OK)
    {
        json_decref(body);
        body = NULL;
    }

    if (body && ps->resumable
        && (json_object_set_new(body, "upload_id", json_string(id)) != 0
            || json_object_set_new(body, "size", json_integer(ps->nsize))
               != 0))
    {
        json_decref(body);
        body = NULL;
    }

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


ngx_int_t
ngx_mam_presign_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    char                  safe[MAM_SAFE_NAME_MAX + 1];
    json_t               *size, *resumable;
    ngx_str_t             filename, ct;
    json_int_t            n;
    const char          **values, *message;
    ngx_mam_presign_t    *ps;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (ngx_mam_body_string(r, ctx, "filename", 1, 255, 1, &filename,
                            &message) != NGX_OK
        || ngx_mam_body_string(r, ctx, "content_type", 1, 255, 1, &ct,
                               &message) != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    size = json_object_get(ctx->body, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 1) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "size: must be a positive integer");
    }

    resumable = json_object_get(ctx->body, "resumable");
    if (resumable != NULL && !json_is_boolean(resumable)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "resumable: must be a boolean");
    }

    n = json_integer_value(size);
    if (n > (json_int_t) mcf->upload_max_size) {
        return ngx_mam_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                   ngx_mam_message(r->pool, "size: must be at most %O bytes",
                                   mcf->upload_max_size));
    }

    ps = ngx_pcalloc(r->pool, sizeof(ngx_mam_presign_t));
    values = ngx_pcalloc(r->pool, 10 * sizeof(char *));
    if (ps == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ps->content_type = ngx_mam_presign_content_type(r->pool, &ct);
    if (ps->content_type == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                  "content_type: must be video/* or audio/*");
    }

    mam_safe_filename((char *) filename.data, filename.len, safe);

    values[0] = ctx->user.sub;
    values[1] = ngx_mam_cstr(r->pool, &filename);
    values[2] = ngx_mam_message(r->pool, "%s", safe);
    values[3] = ps->content_type;
    values[4] = ngx_mam_message(r->pool, "%L", (int64_t) n);
    ps->size = values[4];
    ps->nsize = n;
    ps->user = ctx->user.sub;
    /* api.md's clients expect a PUT: by size only when configured */
    ps->resumable = json_is_true(resumable)
                    || (mcf->upload_resumable_threshold > 0
                        && n >= (json_int_t) mcf->upload_resumable_threshold);
    values[5] = ngx_mam_message(r->pool, "%T", ps->resumable
                                               ? mcf->upload_resumable_ttl
                                               : mcf->upload_url_ttl);
    values[6] = ngx_mam_ip(r);
    values[7] = ps->resumable ? "true" : "false";

    /* the quotas (NULL: none); admins are exempt */
    if (!ngx_mam_has_role(ctx, MAM_ROLE_ADMIN)) {
        if (mcf->user_quota > 0) {
            values[8] = ngx_mam_message(r->pool, "%O", mcf->user_quota);
            if (values[8] == NULL) {
                return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          NULL);
            }
        }

        if (mcf->uploads_pending > 0) {
            values[9] = ngx_mam_message(r->pool, "%ui", mcf->uploads_pending);
            if (values[9] == NULL) {
                return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          NULL);
            }
        }
    }

    if (values[1] == NULL || values[2] == NULL || values[4] == NULL
        || values[5] == NULL
        || ngx_mam_pg_query(r, "SELECT mam_presign($1, $2, $3, $4, $5, $6, "
                               "$7, $8, $9, $10)", 10, values,
                            ngx_mam_presign_done, ps)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- PUT {upload_url} ---------------------------------------------------- */

/* an error before the body was read: the body is discarded (without
 * "100 Continue", so a client that waits for it never sends the body) */
static ngx_int_t
ngx_mam_upload_reject(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_mam_discard_unread_body(r);

    return ngx_mam_send_error(r, status, message);
}


static void
ngx_mam_upload_completed(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t            *v, *body;
    ngx_mam_upload_t  *up = data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    /* the file was already at the key: a complete upload (api.md: 409) */
    if (up->op.rc == MAM_STORAGE_EXISTS
        || ngx_mam_outcome(v) != MAM_OUTCOME_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the key already holds a complete upload");
        return;
    }

    body = json_pack("{s:s, s:I}", "staging_key", up->staging_key,
                     "size", (json_int_t) up->size);
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_CREATED, body));
}


/* back from the thread pool: the body is at the staging key (or was) */
static void
ngx_mam_upload_placed(ngx_http_request_t *r, void *data)
{
    const char            **values;
    ngx_mam_storage_op_t   *op = data;
    ngx_mam_upload_t       *up = op->data;

    if (up->op.rc != MAM_STORAGE_OK && up->op.rc != MAM_STORAGE_EXISTS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, up->op.err,
                      "mam: upload %s could not be placed at \"%s\"",
                      up->id, up->staging_key);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values = ngx_palloc(r->pool, sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = up->id;

    /* only complete bodies reach the key, so an existing file is one */
    if (ngx_mam_pg_query(r, "SELECT mam_upload_complete($1)", 1, values,
                         ngx_mam_upload_completed, up)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* the whole body is in the temp file */
static void
ngx_mam_upload_body(ngx_http_request_t *r)
{
    ngx_temp_file_t   *tf;
    ngx_mam_upload_t  *up;

    up = ngx_http_get_module_ctx(r, ngx_mam_upload_module);

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL || tf->file.offset != up->size) {
        ngx_mam_fail(r, NGX_HTTP_BAD_REQUEST,
                     "the body does not have the presigned size");
        return;
    }

    up->op.op = NGX_MAM_STORAGE_PUT_FILE;
    up->op.file = (const char *) tf->file.name.data;
    up->op.key = up->staging_key;
    up->op.data = up;

    if (ngx_mam_storage_run(r, &up->op, ngx_mam_upload_placed) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* NGX_OK when this upload may take a body of this length; else the status
 * to refuse it with, and *message */
static ngx_int_t
ngx_mam_upload_check(ngx_http_request_t *r, ngx_mam_upload_t *up, json_t *v,
    const char **message)
{
    json_t         *size, *key;
    mam_outcome_t   state;

    *message = NULL;
    state = ngx_mam_outcome(v);

    if (state == MAM_OUTCOME_MISSING) {
        *message = "unknown upload";
        return NGX_HTTP_NOT_FOUND;
    }

    if (state == MAM_OUTCOME_COMPLETE || state == MAM_OUTCOME_CONSUMED) {
        *message = "the key already holds a complete upload";
        return NGX_HTTP_CONFLICT;
    }

    if (state == MAM_OUTCOME_EXPIRED
        || json_is_true(json_object_get(v, "expired")))
    {
        *message = "the upload URL has expired";
        return NGX_HTTP_GONE;
    }

    size = json_object_get(v, "size");
    key = json_object_get(v, "staging_key");
    if (state != MAM_OUTCOME_PENDING || !json_is_integer(size)
        || !json_is_string(key))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    up->size = (off_t) json_integer_value(size);
    up->staging_key = (char *) json_string_value(key);

    /* before the body is read: a larger one is never buffered */
    if (r->headers_in.content_length_n > up->size) {
        *message = ngx_mam_message(r->pool, "the presigned size is %O bytes",
                                   up->size);
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (r->headers_in.content_length_n < up->size) {
        *message = ngx_mam_message(r->pool, "the body must be the presigned "
                                   "%O bytes", up->size);
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;
}


static void
ngx_mam_upload_state(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t            *v;
    ngx_int_t          rc;
    const char        *message;
    ngx_mam_upload_t  *up = data;

    v = ngx_mam_pg_json(r->pool, res);
    if (v == NULL) {
        ngx_http_finalize_request(r, ngx_mam_upload_reject(r,
                                  res ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                      : NGX_HTTP_SERVICE_UNAVAILABLE, NULL));
        return;
    }

    rc = ngx_mam_upload_check(r, up, v, &message);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_mam_upload_reject(r, rc, message));
        return;
    }

    /* streamed to a temp file, kept for the move, removed with the pool */
    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_log_level = 0;

    rc = ngx_http_read_client_request_body(r, ngx_mam_upload_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the reference taken by the content handler */
    ngx_http_finalize_request(r, NGX_DONE);
}


/* what mam_upload_terminate() refuses with */
static const ngx_mam_outcome_t  ngx_mam_terminate_outcomes[] = {
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_GONE, "the upload has ended", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


static void
ngx_mam_upload_terminated(ngx_http_request_t *r, PGresult *res, void *data)
{
    (void) data;

    ngx_mam_answer_outcome(r, res, ngx_mam_terminate_outcomes,
                           NGX_HTTP_NO_CONTENT, NULL);
}


/* a resumable upload's bytes are gone (tus DELETE, S3 abort): record it
 * and answer 204 (410 when it had ended meanwhile) */
void
ngx_mam_upload_terminate(ngx_http_request_t *r, const char *id,
    const char *user)
{
    const char  **values;

    values = ngx_palloc(r->pool, 3 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = id;
    values[1] = user;
    values[2] = ngx_mam_ip(r);

    if (ngx_mam_pg_query(r, "SELECT mam_upload_terminate($1, $2, $3)", 3,
                         values, ngx_mam_upload_terminated, NULL)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* an upload record (mam_upload_state) still receiving bytes: NGX_OK, or
 * 409 complete, 410 expired or terminated, with *message */
ngx_int_t
ngx_mam_upload_pending(json_t *v, const char **message)
{
    mam_outcome_t  state;

    state = ngx_mam_outcome(v);

    if (state == MAM_OUTCOME_COMPLETE || state == MAM_OUTCOME_CONSUMED) {
        *message = "the upload is complete";
        return NGX_HTTP_CONFLICT;
    }

    if (state != MAM_OUTCOME_PENDING
        || json_is_true(json_object_get(v, "expired")))
    {
        *message = "the upload has ended";
        return NGX_HTTP_GONE;
    }

    *message = NULL;

    return NGX_OK;
}


/* the upload id from the path and a valid, unexpired signature (with the
 * owner's id for tus), or the status to refuse the request with */
ngx_int_t
ngx_mam_upload_verify(ngx_http_request_t *r, char *id_out, const char *user,
    time_t *expires_out)
{
    u_char               *msg, *p;
    size_t                len;
    time_t                expires;
    ngx_str_t             id, exp, sig, *key;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    key = ngx_mam_upload_key(mcf, user);

    id.data = r->uri.data + mcf->upload_prefix.len;
    id.len = r->uri.len - mcf->upload_prefix.len;

    if (r->uri.len < mcf->upload_prefix.len
        || !mam_uuid_valid((char *) id.data, id.len))
    {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_memcpy(id_out, id.data, MAM_UUID_LEN);
    id_out[MAM_UUID_LEN] = '\0';

    if (ngx_http_arg(r, (u_char *) "expires", 7, &exp) != NGX_OK
        || ngx_http_arg(r, (u_char *) "sig", 3, &sig) != NGX_OK
        || exp.len == 0 || exp.len > 12)
    {
        return NGX_HTTP_FORBIDDEN;
    }

    for (p = exp.data; p < exp.data + exp.len; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_HTTP_FORBIDDEN;
        }
    }

    expires = ngx_atotm(exp.data, exp.len);

    msg = ngx_pnalloc(r->pool, NGX_MAM_UPLOAD_MSG_LEN);
    if (expires == NGX_ERROR || msg == NULL) {
        return NGX_HTTP_FORBIDDEN;
    }

    len = ngx_mam_upload_message(msg, id_out, user, expires);

    if (key->len == 0
        || !mam_hmac_verify(key->data, key->len, msg, len, (char *) sig.data,
                            sig.len))
    {
        return NGX_HTTP_FORBIDDEN;
    }

    if (expires < ngx_time()) {
        return NGX_HTTP_GONE;
    }

    if (expires_out) {
        *expires_out = expires;
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_upload_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    const char          **values;
    ngx_mam_upload_t     *up;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (r->method != NGX_HTTP_PUT) {
        /* everything else is tus 1.0 (or not allowed) */
        return ngx_mam_tus_handler(r);
    }

    up = ngx_pcalloc(r->pool, sizeof(ngx_mam_upload_t));
    values = ngx_palloc(r->pool, sizeof(char *));
    if (up == NULL || values == NULL) {
        return ngx_mam_upload_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    rc = ngx_mam_upload_verify(r, up->id, NULL, NULL);
    if (rc != NGX_OK) {
        return ngx_mam_upload_reject(r, rc,
                   rc == NGX_HTTP_FORBIDDEN ? "invalid upload signature"
                   : rc == NGX_HTTP_GONE ? "the upload URL has expired"
                   : NULL);
    }

    if (r->headers_in.content_length_n < 0) {
        return ngx_mam_upload_reject(r, NGX_HTTP_LENGTH_REQUIRED, NULL);
    }

    /* no presigned size is larger: refused before any I/O */
    if (r->headers_in.content_length_n > mcf->upload_max_size) {
        return ngx_mam_upload_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                   ngx_mam_message(r->pool, "uploads are at most %O bytes",
                                   mcf->upload_max_size));
    }

    ngx_http_set_ctx(r, up, ngx_mam_upload_module);

    values[0] = up->id;

    if (ngx_mam_pg_query(r, "SELECT mam_upload_state($1)", 1, values,
                         ngx_mam_upload_state, up)
        != NGX_OK)
    {
        return ngx_mam_upload_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    r->main->count++;

    return NGX_DONE;
}


/* --- the upload module: the mam_upload location (PUT and tus) ------------- */

/*
 * location /upload/ { mam_upload; }: the target of presigned PUTs and tus.
 * Its name is the prefix of every upload URL the API signs.
 */
static char *
ngx_mam_upload_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mam_upload_loc_conf_t  *ulcf = conf;
    ngx_mam_main_conf_t        *mcf;
    ngx_http_core_loc_conf_t   *clcf;

    (void) cmd;

    if (ulcf->upload) {
        return "is duplicate";
    }

    clcf = ngx_mam_conf_prefix_location(cf);
    if (clcf == NULL) {
        return "must be in a prefix location ending in \"/\"";
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);
    if (mcf->upload_prefix.data) {
        return "is duplicate: one upload location per http block";
    }

    ulcf->upload = 1;
    mcf->upload_prefix = clcf->name;
    clcf->handler = ngx_mam_upload_handler;

    return NGX_CONF_OK;
}


static void *
ngx_mam_upload_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_mam_upload_loc_conf_t));
}


static ngx_command_t  ngx_mam_upload_commands[] = {

    { ngx_string("mam_upload"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_upload_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


/* the location's flag is not inherited: no merge */
static ngx_http_module_t  ngx_mam_upload_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    ngx_mam_upload_create_loc_conf,        /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_mam_upload_module = {
    NGX_MODULE_V1,
    &ngx_mam_upload_module_ctx,            /* module context */
    ngx_mam_upload_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};
