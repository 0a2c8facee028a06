/*
 * Preview orchestration (api.md, pipeline.md): jobs are rows in PostgreSQL
 * first, then entries of the Redis stream previews:build; every change of
 * a version's preview status is published on mam:previews for the SSE
 * subscribers of every worker.  A job whose XADD failed (Redis down) is
 * still queued in PostgreSQL, and reconciliation enqueues it later.
 *
 * POST /api/preview, GET /api/preview/status, POST /api/preview/callback.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_preview.h"


typedef struct {
    json_t                       *entry;
    ngx_mam_preview_done_pt       done;
    void                         *data;
    const char                   *values[2];
} ngx_mam_dispatch_t;


static void
ngx_mam_preview_ignore(ngx_http_request_t *r, redisReply *reply, void *data)
{
    (void) r;
    (void) reply;
    (void) data;
}


/* XADD argv of an entry: NGX_MAM_PREVIEW_ARGC strings in pool; NGX_DECLINED
 * if malformed.  The fields go through mam_job_set() and mam_job_valid(),
 * the daemon's own parser, so an entry transcoderd would drop is never
 * added.  The stream keeps about mam_preview_stream_maxlen entries: "~"
 * trims whole nodes only, never below that many */
ngx_int_t
ngx_mam_preview_entry_argv(ngx_pool_t *pool, json_t *entry,
    const char **argv)
{
    char        *num;
    size_t       i, len;
    json_t      *v;
    mam_job_t   *job;
    const char  *name, *text;

    job = ngx_palloc(pool, sizeof(mam_job_t));
    num = ngx_pnalloc(pool, 16);
    if (job == NULL || num == NULL) {
        return NGX_ERROR;
    }

    mam_job_init(job);

    for (i = 0; i < MAM_JOB_NFIELDS; i++) {
        name = mam_job_fields[i];
        v = json_object_get(entry, name);

        if (json_is_string(v)) {
            text = json_string_value(v);
            len = json_string_length(v);

        } else if (json_is_integer(v)) {
            text = ngx_mam_message(pool, "%L",
                                   (int64_t) json_integer_value(v));
            len = text ? ngx_strlen(text) : 0;

        } else {
            return NGX_DECLINED;
        }

        if (text == NULL) {
            return NGX_ERROR;
        }

        if (mam_job_set(job, name, ngx_strlen(name), text, len) != 0) {
            return NGX_DECLINED;
        }
    }

    if (!mam_job_valid(job)) {
        return NGX_DECLINED;
    }

    argv[0] = "XADD";
    argv[1] = MAM_STREAM_BUILD;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = ngx_mam_message(pool, "%i", ngx_mam_main_conf()->preview_maxlen);
    argv[5] = "*";

    if (argv[4] == NULL) {
        return NGX_ERROR;
    }

    mam_job_argv(job, num, argv + 6);

    return NGX_OK;
}


/* the job_id of an entry, for a log line (a malformed one may have none) */
const char *
ngx_mam_preview_job_id(json_t *entry)
{
    const char  *id;

    id = json_string_value(json_object_get(entry, MAM_JOB_JOB_ID));

    return id ? id : "(none)";
}


/* PUBLISH the event {asset_id, status} for the SSE subscribers */
void
ngx_mam_preview_publish(ngx_http_request_t *r, json_t *event)
{
    ngx_mam_publish(r, MAM_CHANNEL_PREVIEWS, event);
}


/* PUBLISH an object on a channel, not waiting for Redis; nothing when
 * event is no object (a function that had nothing to announce) */
void
ngx_mam_publish(ngx_http_request_t *r, const char *channel, json_t *event)
{
    char                 *text;
    const char           *argv[3];
    ngx_mam_main_conf_t  *mcf;

    if (!json_is_object(event)) {
        return;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    text = json_dumps(event, NGX_MAM_JSON_FLAGS);
    if (text == NULL) {
        return;
    }

    argv[0] = "PUBLISH";
    argv[1] = channel;
    argv[2] = text;

    (void) ngx_mam_redis_command(r, mcf->redis, ngx_mam_preview_ignore, NULL,
                                 3, argv, NULL);

    free(text);
}


static void
ngx_mam_dispatch_recorded(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_mam_dispatch_t  *d = data;

    (void) res;

    d->done(r, d->data);
}


static void
ngx_mam_dispatch_added(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_mam_dispatch_t  *d = data;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mam: job %s not added to " MAM_STREAM_BUILD
                      " (%s); reconciliation will",
                      ngx_mam_preview_job_id(d->entry),
                      reply && reply->type == REDIS_REPLY_ERROR
                      ? reply->str : "redis unavailable");
        d->done(r, d->data);
        return;
    }

    d->values[0] = json_string_value(json_object_get(d->entry,
                                                     MAM_JOB_JOB_ID));
    d->values[1] = ngx_mam_message(r->pool, "%s", reply->str);

    if (ngx_mam_pg_query(r, "SELECT mam_job_enqueued($1, $2)", 2, d->values,
                         ngx_mam_dispatch_recorded, d)
        != NGX_OK)
    {
        d->done(r, d->data);
    }
}


void
ngx_mam_preview_dispatch(ngx_http_request_t *r, json_t *entry,
    json_t *event, ngx_mam_preview_done_pt done, void *data)
{
    ngx_int_t             rc;
    const char           *argv[NGX_MAM_PREVIEW_ARGC];
    ngx_mam_dispatch_t   *d;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    ngx_mam_preview_publish(r, event);

    d = ngx_pcalloc(r->pool, sizeof(ngx_mam_dispatch_t));
    if (d == NULL || !json_is_object(entry)) {
        done(r, data);
        return;
    }

    rc = ngx_mam_preview_entry_argv(r->pool, entry, argv);
    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "mam: job %s: malformed entry, not added to "
                          MAM_STREAM_BUILD, ngx_mam_preview_job_id(entry));
        }
        done(r, data);
        return;
    }

    d->entry = entry;
    d->done = done;
    d->data = data;

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_dispatch_added, d,
                              NGX_MAM_PREVIEW_ARGC, argv, NULL)
        != NGX_OK)
    {
        done(r, data);
    }
}


/* --- POST /api/preview --------------------------------------------------- */

/* what mam_preview_request() refuses with */
static const ngx_mam_outcome_t  ngx_mam_preview_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset or version",
      NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only the owner or an admin may request a preview", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


static void
ngx_mam_preview_answer(ngx_http_request_t *r, void *data)
{
    json_t  *v = data;

    ngx_http_finalize_request(r, ngx_mam_send_json(r,
                    ngx_mam_outcome(v) == MAM_OUTCOME_READY ? NGX_HTTP_OK
                                                 : NGX_HTTP_ACCEPTED,
                    json_object_get(v, "status")));
}


static void
ngx_mam_preview_requested(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    switch (ngx_mam_outcome(v)) {

    case MAM_OUTCOME_QUEUED:
        ngx_mam_preview_dispatch(r, json_object_get(v, "entry"),
                                 json_object_get(v, "event"),
                                 ngx_mam_preview_answer, v);
        return;

    case MAM_OUTCOME_READY:
    case MAM_OUTCOME_EXISTING:
        ngx_mam_preview_answer(r, v);
        return;

    default:
        ngx_mam_refuse_outcome(r, v, ngx_mam_preview_outcomes);
    }
}


/* version_id and/or asset_id of a body or the query string: exactly one */
static const char *
ngx_mam_preview_target(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char **version, const char **asset)
{
    ngx_int_t   rc;
    ngx_str_t   v;
    const char *message, *names[2] = { "version_id", "asset_id" };
    const char **out[2];
    ngx_uint_t  i;

    out[0] = version;
    out[1] = asset;
    *version = NULL;
    *asset = NULL;

    for (i = 0; i < 2; i++) {
        if (ctx->body) {
            rc = ngx_mam_body_string(r, ctx, names[i], 1, MAM_UUID_LEN, 0,
                                     &v, &message);
        } else {
            rc = ngx_http_arg(r, (u_char *) names[i], ngx_strlen(names[i]),
                              &v) == NGX_OK ? NGX_OK : NGX_DECLINED;
        }

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK || !mam_uuid_valid((char *) v.data, v.len)) {
            return ngx_mam_message(r->pool, "%s: must be a UUID", names[i]);
        }

        *out[i] = ngx_mam_cstr(r->pool, &v);
    }

    if (*version == NULL && *asset == NULL) {
        return "version_id or asset_id: required";
    }

    return NULL;
}


ngx_int_t
ngx_mam_preview_request_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    json_t       *force;
    const char  **values, *message;

    values = ngx_pcalloc(r->pool, 6 * sizeof(char *));
    if (values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    message = ngx_mam_preview_target(r, ctx, &values[0], &values[1]);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    force = ctx->body ? json_object_get(ctx->body, "force") : NULL;
    if (force != NULL && !json_is_boolean(force) && !json_is_null(force)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "force: must be true or false");
    }

    values[2] = ctx->user.sub;
    values[3] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[4] = json_is_true(force) ? "true" : "false";
    values[5] = ngx_mam_ip(r);

    if (ngx_mam_pg_query(r, "SELECT mam_preview_request($1, $2, $3, $4, $5, "
                            "$6)", 6, values, ngx_mam_preview_requested, NULL)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- GET /api/preview/status --------------------------------------------- */

static const ngx_mam_outcome_t  ngx_mam_preview_status_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset or version",
      NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

/* the version, or the asset's latest, from the query string (a body is
 * not looked at) */
static const ngx_mam_field_t  ngx_mam_preview_status_fields[] = {
    { "version_id", ngx_mam_field_query_uuid, 0, 0, 0 },
    { "asset_id", ngx_mam_field_query_uuid, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

/* GET /api/preview/status: answers the status object itself */
const ngx_mam_statement_t  ngx_mam_preview_status = {
    "SELECT mam_preview_status($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_USER,
      NGX_MAM_ARG_ADMIN },
    ngx_mam_preview_status_fields,
    NGX_MAM_STATEMENT_ANY_FIELD | NGX_MAM_STATEMENT_BARE,
    "version_id or asset_id: required",
    NULL, ngx_mam_preview_status_outcomes, NGX_HTTP_OK, "status"
};


/* --- POST /api/preview/callback ------------------------------------------ */

static ngx_table_elt_t *
ngx_mam_preview_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
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

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* X-Mam-Timestamp within MAM_CALLBACK_WINDOW and X-Mam-Signature over
 * "ts.body" */
static ngx_int_t
ngx_mam_preview_callback_verify(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_table_elt_t      *th, *sh;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    th = ngx_mam_preview_header(r, MAM_CALLBACK_HEADER_TS);
    sh = ngx_mam_preview_header(r, MAM_CALLBACK_HEADER_SIG);

    if (th == NULL || sh == NULL) {
        return NGX_ERROR;
    }

    return mam_callback_verify(mcf->callback_key.data, mcf->callback_key.len,
                               (char *) th->value.data, th->value.len,
                               (char *) sh->value.data, sh->value.len,
                               ctx->raw_body.data, ctx->raw_body.len,
                               (long) ngx_time(), MAM_CALLBACK_WINDOW)
           ? NGX_OK : NGX_ERROR;
}


static void
ngx_mam_preview_callback_sent(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    (void) reply;

    /* every accepted callback is published, applied or not */
    ngx_mam_preview_publish(r, json_object_get(data, "event"));

    ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
}


static void
ngx_mam_preview_callback_done(ngx_http_request_t *r, PGresult *res,
    void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    if (ngx_mam_outcome(v) == MAM_OUTCOME_UNKNOWN) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such job for this version");
        return;
    }

    /* a replaced ladder's new generation (030) reaches the edges first */
    ngx_mam_edge_revoke(r, json_object_get(v, "epochs"),
                        ngx_mam_preview_callback_sent, v);
}


/* the optional JSON fields of a callback, as text for SQL */
static const char *
ngx_mam_preview_callback_fields(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char **values)
{
    json_t      *v;
    double       progress;
    char        *text;
    ngx_int_t    rc;
    ngx_str_t    s;
    const char  *message;

    v = json_object_get(ctx->body, MAM_CALLBACK_PROGRESS);
    if (v != NULL && !json_is_null(v)) {
        progress = json_is_number(v) ? json_number_value(v) : -1;
        if (progress < 0 || progress > 1) {
            return "progress: must be a number from 0 to 1";
        }
        values[3] = ngx_mam_message(r->pool, "%.4f", progress);
    }

    v = json_object_get(ctx->body, MAM_CALLBACK_METADATA);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v)) {
            return "metadata: must be an object";
        }
        text = json_dumps(v, NGX_MAM_JSON_FLAGS);
        s.data = (u_char *) text;
        s.len = text ? ngx_strlen(text) : 0;
        values[4] = text ? ngx_mam_cstr(r->pool, &s) : NULL;
        free(text);
    }

    v = json_object_get(ctx->body, MAM_CALLBACK_RENDITIONS);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_array(v)) {
            return "renditions: must be an array";
        }
        text = json_dumps(v, NGX_MAM_JSON_FLAGS);
        s.data = (u_char *) text;
        s.len = text ? ngx_strlen(text) : 0;
        values[5] = text ? ngx_mam_cstr(r->pool, &s) : NULL;
        free(text);
    }

    v = json_object_get(ctx->body, MAM_CALLBACK_PLAYABLE);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            return "playable: must be true or false";
        }
        values[8] = json_is_true(v) ? "true" : "false";
    }

    rc = ngx_mam_body_string(r, ctx, MAM_CALLBACK_ERROR, 1,
                             MAM_CALLBACK_ERROR_MAX, 0, &s, &message);
    if (rc == NGX_ERROR) {
        return message;
    }
    if (rc == NGX_OK) {
        values[6] = ngx_mam_cstr(r->pool, &s);
    }

    return NULL;
}


ngx_int_t
ngx_mam_preview_callback_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_str_t     job, version, status;
    const char  **values, *message;

    if (ngx_mam_preview_callback_verify(r, ctx) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                  "invalid or expired callback signature");
    }

    if (ngx_mam_body_string(r, ctx, MAM_CALLBACK_JOB_ID, 1, MAM_UUID_LEN, 1,
                            &job, &message) != NGX_OK
        || ngx_mam_body_string(r, ctx, MAM_CALLBACK_VERSION_ID, 1,
                               MAM_UUID_LEN, 1, &version, &message) != NGX_OK
        || ngx_mam_body_string(r, ctx, MAM_CALLBACK_STATUS, 1, 16, 1, &status,
                               &message) != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (!mam_uuid_valid((char *) job.data, job.len)
        || !mam_uuid_valid((char *) version.data, version.len))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "job_id, version_id: must be UUIDs");
    }

    if (!mam_preview_status_valid((char *) status.data, status.len)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "status: must be queued, processing, "
                                  "ready or failed");
    }

    values = ngx_pcalloc(r->pool, 9 * sizeof(char *));
    if (values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_cstr(r->pool, &job);
    values[1] = ngx_mam_cstr(r->pool, &version);
    values[2] = ngx_mam_cstr(r->pool, &status);
    values[7] = ngx_mam_ip(r);

    message = ngx_mam_preview_callback_fields(r, ctx, values);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (ngx_mam_pg_query(r, "SELECT mam_preview_callback($1, $2, $3, $4, "
                            "$5::jsonb, $6::jsonb, $7, $8, $9::boolean)", 9,
                         values,
                         ngx_mam_preview_callback_done, NULL)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
