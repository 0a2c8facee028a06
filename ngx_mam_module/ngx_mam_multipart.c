/*
 * Resumable uploads on S3: an S3 multipart upload of the staging key.  The
 * browser PUTs each part straight to the staging bucket with a presigned
 * UploadPart URL; the module, with its own credentials, starts the upload,
 * lists the parts S3 holds (so a client resumes with what is missing),
 * completes it once every part is there (then checks the object's size
 * with HEAD) and aborts it on termination.
 *
 *   POST   /api/presign {resumable: true}  method "s3-multipart", parts
 *   GET    /api/uploads/:id/parts          uploaded parts + URLs of the rest
 *   POST   /api/uploads/:id/complete       200 {staging_key, size}
 *   DELETE /api/uploads/:id                204, the multipart upload aborted
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_storage.h"


#define NGX_MAM_MP_URL_LEN    8192
#define NGX_MAM_MP_MAX_TTL    (7 * 86400)     /* S3's longest presign */
/* presigned URLs per answer: signing is done in the worker, so a client
 * of a 10,000-part upload asks GET .../parts again for the next ones */
#define NGX_MAM_MP_URLS_MAX   100


typedef struct {
    char                   id[MAM_UUID_LEN + 1];
    const char            *staging_key;
    json_int_t             size;
    json_int_t             part_size;
    time_t                 expires;
    json_t                *expires_at;
    ngx_mam_ctx_t         *ctx;
    ngx_mam_storage_op_t   op;
} ngx_mam_mp_t;


/* parts of at least mam_upload_part_size, never more than S3's 10000 */
static json_int_t
ngx_mam_mp_part_size(json_int_t size, size_t configured)
{
    json_int_t  least;

    least = (size + MAM_STORE_MAX_PARTS - 1) / MAM_STORE_MAX_PARTS;
    least = (least + (1 << 20) - 1) & ~((json_int_t) (1 << 20) - 1);

    return least > (json_int_t) configured ? least : (json_int_t) configured;
}


/* [{part_number, url}] for the first parts not in uploaded (NULL: none),
 * at most NGX_MAM_MP_URLS_MAX */
static json_t *
ngx_mam_mp_part_urls(ngx_http_request_t *r, ngx_mam_mp_t *mp,
    const mam_s3_part_t *uploaded, size_t nuploaded)
{
    int                   n, last;
    char                  num[16], *url;
    long                  ttl;
    size_t                i;
    json_t               *list;
    const char           *bucket;
    mam_sigv4_pair_t      q[2];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    bucket = mam_store_bucket(mcf->store, mp->staging_key);
    url = ngx_pnalloc(r->pool, NGX_MAM_MP_URL_LEN);
    list = json_array();
    if (bucket == NULL || url == NULL || list == NULL) {
        json_decref(list);
        return NULL;
    }

    ttl = (long) (mp->expires - ngx_time());
    ttl = ngx_max(ngx_min(ttl, NGX_MAM_MP_MAX_TTL), 1);

    last = (int) ((mp->size + mp->part_size - 1) / mp->part_size);

    for (n = 1, i = 0; n <= last && json_array_size(list) < NGX_MAM_MP_URLS_MAX;
         n++)
    {
        while (i < nuploaded && uploaded[i].number < n) {
            i++;
        }
        if (i < nuploaded && uploaded[i].number == n) {
            continue;
        }

        ngx_sprintf((u_char *) num, "%d%Z", n);
        q[0] = (mam_sigv4_pair_t) { "partNumber", num };
        q[1] = (mam_sigv4_pair_t) { "uploadId", mp->op.upload_id };

        if (mam_s3_presign_query(mcf->s3, "PUT", bucket, mp->staging_key,
                                 NULL, 0, q, 2, ttl, url, NGX_MAM_MP_URL_LEN)
            != 0
            || json_array_append_new(list, json_pack("{s:i, s:s}",
                                     "part_number", n, "url", url))
               != 0)
        {
            json_decref(list);
            return NULL;
        }
    }

    return list;
}


static void
ngx_mam_mp_send(ngx_http_request_t *r, json_t *body)
{
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        json_decref(body);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


/* S3 could not be reached or refused the module's own request */
static void
ngx_mam_mp_storage_fail(ngx_http_request_t *r, ngx_mam_mp_t *mp)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "mam: multipart upload %s: S3 operation %d failed",
                  mp->id, (int) mp->op.op);
    ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
}


static ngx_int_t
ngx_mam_mp_storage(ngx_http_request_t *r, ngx_mam_mp_t *mp,
    ngx_mam_storage_op_e op, ngx_mam_thread_done_pt done)
{
    mp->op.op = op;
    mp->op.key = mp->staging_key;
    mp->op.data = mp;

    return ngx_mam_storage_run(r, &mp->op, done);
}


/* --- POST /api/presign {resumable: true} --------------------------------- */

static void
ngx_mam_mp_recorded(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t        *v, *parts, *body;
    ngx_mam_mp_t  *mp = data;

    v = ngx_mam_pg_json(r->pool, res);
    if (v == NULL || ngx_mam_outcome(v) != MAM_OUTCOME_OK) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    parts = ngx_mam_mp_part_urls(r, mp, NULL, 0);
    if (parts == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    body = json_pack("{s:s, s:s, s:{s:s}, s:s, s:O, s:s, s:I, s:I, s:o}",
                     "upload_url", ngx_mam_message(r->pool, "/api/uploads/%s",
                                                   mp->id),
                     "method", "s3-multipart",
                     "headers", "Content-Type", mp->op.content_type,
                     "staging_key", mp->staging_key,
                     "expires_at", mp->expires_at,
                     "upload_id", mp->id,
                     "size", mp->size,
                     "part_size", mp->part_size,
                     "parts", parts);

    ngx_mam_mp_send(r, body);
}


static void
ngx_mam_mp_created(ngx_http_request_t *r, void *data)
{
    const char    **values;
    ngx_mam_mp_t   *mp = ((ngx_mam_storage_op_t *) data)->data;

    if (mp->op.rc != MAM_STORAGE_OK) {
        ngx_mam_mp_storage_fail(r, mp);
        return;
    }

    values = ngx_palloc(r->pool, 3 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = mp->id;
    values[1] = mp->op.upload_id;
    values[2] = ngx_mam_message(r->pool, "%L", (int64_t) mp->part_size);

    if (ngx_mam_pg_query(r, "SELECT mam_upload_multipart($1, $2, $3)", 3,
                         values, ngx_mam_mp_recorded, mp)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


void
ngx_mam_multipart_start(ngx_http_request_t *r, json_t *upload,
    const char *content_type, json_int_t size)
{
    const char           *id;
    ngx_mam_mp_t         *mp;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    mp = ngx_pcalloc(r->pool, sizeof(ngx_mam_mp_t));
    id = json_string_value(json_object_get(upload, "id"));
    if (mp == NULL || id == NULL || ngx_strlen(id) != MAM_UUID_LEN) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_memcpy(mp->id, id, MAM_UUID_LEN + 1);
    mp->staging_key = json_string_value(json_object_get(upload,
                                                        "staging_key"));
    mp->expires = (time_t) json_integer_value(json_object_get(upload,
                                                              "expires"));
    mp->expires_at = json_object_get(upload, "expires_at");
    mp->size = size;
    mp->part_size = ngx_mam_mp_part_size(size, mcf->upload_part_size);
    mp->op.content_type = content_type;

    if (mp->staging_key == NULL
        || ngx_mam_mp_storage(r, mp, NGX_MAM_STORAGE_MULTIPART_CREATE,
                              ngx_mam_mp_created)
           != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* --- GET /api/uploads/:id/parts -------------------------------------------- */

static void
ngx_mam_mp_listed(ngx_http_request_t *r, void *data)
{
    size_t         i;
    json_t        *uploaded, *rest, *body;
    ngx_mam_mp_t  *mp = ((ngx_mam_storage_op_t *) data)->data;

    if (mp->op.rc == MAM_STORAGE_MISSING) {
        ngx_mam_fail(r, NGX_HTTP_GONE, "the multipart upload has ended");
        return;
    }

    if (mp->op.rc != MAM_STORAGE_OK) {
        ngx_mam_mp_storage_fail(r, mp);
        return;
    }

    uploaded = json_array();
    for (i = 0; uploaded && i < mp->op.nparts; i++) {
        if (json_array_append_new(uploaded, json_pack("{s:i, s:I}",
                "part_number", mp->op.parts[i].number,
                "size", (json_int_t) mp->op.parts[i].size)) != 0)
        {
            json_decref(uploaded);
            uploaded = NULL;
        }
    }

    rest = ngx_mam_mp_part_urls(r, mp, mp->op.parts, mp->op.nparts);

    body = (uploaded && rest)
           ? json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}",
                       "upload_id", mp->id,
                       "staging_key", mp->staging_key,
                       "size", mp->size,
                       "part_size", mp->part_size,
                       "uploaded", uploaded,
                       "parts", rest)
           : NULL;

    if (body == NULL) {
        json_decref(uploaded);
        json_decref(rest);
    }

    ngx_mam_mp_send(r, body);
}


/* --- POST /api/uploads/:id/complete ----------------------------------------- */

static void
ngx_mam_mp_seen(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t        *v;
    ngx_mam_mp_t  *mp = data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    ngx_mam_mp_send(r, json_pack("{s:s, s:I}", "staging_key", mp->staging_key,
                                 "size", mp->size));
}


static void
ngx_mam_mp_completed(ngx_http_request_t *r, void *data)
{
    const char    **values;
    ngx_mam_mp_t   *mp = ((ngx_mam_storage_op_t *) data)->data;

    if (mp->op.rc == MAM_PARTIAL_CONFLICT) {
        ngx_mam_fail(r, NGX_HTTP_CONFLICT, ngx_mam_message(r->pool,
                     "%uz of %L parts are uploaded, or their sizes are not "
                     "the part size", mp->op.nparts,
                     (int64_t) ((mp->size + mp->part_size - 1)
                                / mp->part_size)));
        return;
    }

    if (mp->op.rc == MAM_STORAGE_MISSING) {
        ngx_mam_fail(r, NGX_HTTP_GONE, "the multipart upload has ended");
        return;
    }

    if (mp->op.rc != MAM_STORAGE_OK || mp->op.size != (off_t) mp->size) {
        ngx_mam_mp_storage_fail(r, mp);
        return;
    }

    values = ngx_palloc(r->pool, 2 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = mp->staging_key;
    values[1] = ngx_mam_message(r->pool, "%L", (int64_t) mp->size);

    if (ngx_mam_pg_query(r, "SELECT mam_upload_seen($1, $2)", 2, values,
                         ngx_mam_mp_seen, mp)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* --- DELETE /api/uploads/:id ------------------------------------------------ */

static void
ngx_mam_mp_aborted(ngx_http_request_t *r, void *data)
{
    ngx_mam_mp_t  *mp = ((ngx_mam_storage_op_t *) data)->data;

    if (mp->op.rc != MAM_STORAGE_OK) {
        ngx_mam_mp_storage_fail(r, mp);
        return;
    }

    ngx_mam_upload_terminate(r, mp->id, mp->ctx->user.sub);
}


/* --- the upload's record decides ------------------------------------------- */

/* NGX_OK for the caller's pending multipart upload; else the status */
static ngx_int_t
ngx_mam_mp_check(ngx_http_request_t *r, ngx_mam_mp_t *mp, json_t *v,
    const char **message)
{
    const char  *owner, *upload_id;

    *message = NULL;

    if (ngx_mam_outcome(v) == MAM_OUTCOME_MISSING) {
        return NGX_HTTP_NOT_FOUND;
    }

    owner = json_string_value(json_object_get(v, "user_id"));
    if (owner == NULL || ngx_strcmp(owner, mp->ctx->user.sub) != 0) {
        *message = "not your upload";
        return NGX_HTTP_FORBIDDEN;
    }

    upload_id = json_string_value(json_object_get(v, "s3_upload_id"));
    mp->staging_key = json_string_value(json_object_get(v, "staging_key"));
    mp->size = json_integer_value(json_object_get(v, "size"));
    mp->part_size = json_integer_value(json_object_get(v, "part_size"));
    mp->expires = (time_t) json_integer_value(json_object_get(v, "expires"));

    if (upload_id == NULL || mp->staging_key == NULL || mp->part_size < 1
        || ngx_strlen(upload_id) >= sizeof(mp->op.upload_id))
    {
        *message = "not an S3 multipart upload";
        return NGX_HTTP_CONFLICT;
    }

    ngx_cpystrn((u_char *) mp->op.upload_id, (u_char *) upload_id,
                sizeof(mp->op.upload_id));

    return ngx_mam_upload_pending(v, message);
}


static void
ngx_mam_mp_state(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                  *v;
    ngx_int_t                rc;
    const char              *message;
    ngx_mam_mp_t            *mp = data;
    ngx_mam_storage_op_e     op;
    ngx_mam_thread_done_pt   done;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    rc = ngx_mam_mp_check(r, mp, v, &message);
    if (rc != NGX_OK) {
        ngx_mam_fail(r, rc, message);
        return;
    }

    mp->op.total = (off_t) mp->size;
    mp->op.part_size = (off_t) mp->part_size;

    if (r->method == NGX_HTTP_GET) {
        op = NGX_MAM_STORAGE_MULTIPART_LIST;
        done = ngx_mam_mp_listed;

    } else if (r->method == NGX_HTTP_POST) {
        op = NGX_MAM_STORAGE_MULTIPART_COMPLETE;
        done = ngx_mam_mp_completed;

    } else {
        op = NGX_MAM_STORAGE_MULTIPART_ABORT;
        done = ngx_mam_mp_aborted;
    }

    if (ngx_mam_mp_storage(r, mp, op, done) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* the three routes on /api/uploads/:id */
ngx_int_t
ngx_mam_multipart_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    char                  *id;
    const char           **values;
    ngx_mam_mp_t          *mp;
    ngx_mam_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    id = ngx_mam_param_uuid(r, ctx, "id");
    if (id == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (mcf->s3 == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_NOT_FOUND,
                                  "multipart uploads need S3 storage; "
                                  "local resumable uploads speak tus");
    }

    mp = ngx_pcalloc(r->pool, sizeof(ngx_mam_mp_t));
    values = ngx_palloc(r->pool, sizeof(char *));
    if (mp == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_memcpy(mp->id, id, MAM_UUID_LEN + 1);
    mp->ctx = ctx;
    values[0] = mp->id;

    if (ngx_mam_pg_query(r, "SELECT mam_upload_state($1)", 1, values,
                         ngx_mam_mp_state, mp)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
