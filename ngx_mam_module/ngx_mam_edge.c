/*
 * The edge (edge.md): `location /s/ { mam_edge; }` validates a signed
 * playback URL on the raw request path, before any file system access,
 * then hands the request to an internal location that serves the previews
 * directory, so ranges, HEAD, conditional requests and sendfile stay
 * nginx's own.  What the served location needs (Content-Type,
 * Cache-Control, CORS) is set in headers_out, which an internal redirect
 * keeps.
 *
 * POST /api/sign-preview issues such URLs for ready previews.
 *
 * Download URLs ({edge}d/..., mam_edge.h) are validated the same way and
 * served from the masters location (an original) or the previews one,
 * with the Content-Disposition of the name they sign.  POST
 * /api/versions/:id/download issues them with local storage, and a
 * presigned S3 GET with response-content-disposition with S3.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_storage.h"

#include "mam_edge.h"
#include "mam_sigv4.h"

/* the S3 signature's slot among module ctxs: the edge module's own
 * (internal redirects wipe the ctx array) */
#define ngx_mam_edge_s3_module_tag  ngx_mam_edge_module


#define NGX_MAM_EDGE_MAX_AGE  86400

/* revocations published per EVAL; a longer list goes in several, in
 * order on the one connection */
#define NGX_MAM_EDGE_REVOKE_CHUNK  500

/* seconds a published epoch is kept: as long as a URL signed before the
 * revocation can live (playback.sql, mam_play_window()) */
#define NGX_MAM_EDGE_EPOCH_WINDOW  3720


/*
 * The worker's play epochs (README, Revocation): a fixed table indexed by
 * a hash of the asset id, each slot the epoch read from Redis and when.
 * A colliding asset takes the slot over: losing an entry only costs one
 * more GET, and the table never grows.
 */
struct ngx_mam_edge_epoch_s {
    u_char                    asset_id[MAM_UUID_LEN];
    ngx_uint_t                epoch;
    ngx_msec_t                fetched;
    unsigned                  used:1;
};


static ngx_int_t ngx_mam_edge_serve(ngx_http_request_t *r,
    mam_edge_url_t *url);


static ngx_int_t
ngx_mam_edge_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_mam_send_error(r, status, message);
}


static ngx_int_t
ngx_mam_edge_cors(ngx_http_request_t *r, ngx_mam_edge_loc_conf_t *lcf)
{
    return ngx_mam_add_header(r, "Access-Control-Allow-Origin",
                              &lcf->edge_cors_origin);
}


static ngx_int_t
ngx_mam_edge_preflight(ngx_http_request_t *r, ngx_mam_edge_loc_conf_t *lcf)
{
    ngx_str_t  methods = ngx_string("GET, HEAD, OPTIONS");
    ngx_str_t  headers = ngx_string("Range, If-Range, If-None-Match, "
                                    "If-Modified-Since");
    ngx_str_t  expose = ngx_string("Content-Length, Content-Range, ETag");
    ngx_str_t  max_age = ngx_string("86400");

    if (ngx_mam_edge_cors(r, lcf) != NGX_OK
        || ngx_mam_add_header(r, "Access-Control-Allow-Methods", &methods)
           != NGX_OK
        || ngx_mam_add_header(r, "Access-Control-Allow-Headers", &headers)
           != NGX_OK
        || ngx_mam_add_header(r, "Access-Control-Expose-Headers", &expose)
           != NGX_OK
        || ngx_mam_add_header(r, "Access-Control-Max-Age", &max_age)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_mam_send_no_content(r);
}


/* the path as the client sent it, after the location's prefix */
static ngx_int_t
ngx_mam_edge_raw_path(ngx_http_request_t *r, ngx_str_t *prefix,
    ngx_str_t *path)
{
    u_char  *end;

    if (!r->valid_unparsed_uri) {
        return NGX_ERROR;
    }

    end = r->args_start ? r->args_start - 1
                        : r->unparsed_uri.data + r->unparsed_uri.len;

    path->data = r->unparsed_uri.data;
    path->len = end - path->data;

    if (path->len < prefix->len
        || ngx_strncmp(path->data, prefix->data, prefix->len) != 0)
    {
        return NGX_ERROR;
    }

    path->data += prefix->len;
    path->len -= prefix->len;

    return NGX_OK;
}


/* current key, then the previous one (rotation) */
static ngx_uint_t
ngx_mam_edge_signed(ngx_http_request_t *r, ngx_mam_main_conf_t *mcf,
    mam_edge_url_t *url)
{
    char  *ip;

    ip = NULL;
    if (mcf->edge_bind_ip) {
        ip = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));
        if (ip == NULL) {
            return 0;
        }
    }

    if (mam_edge_verify(mcf->edge_key.data, mcf->edge_key.len, url, ip)) {
        return 1;
    }

    return mcf->edge_key_previous.len
           && mam_edge_verify(mcf->edge_key_previous.data,
                              mcf->edge_key_previous.len, url, ip);
}


static ngx_uint_t
ngx_mam_edge_is_playlist(mam_edge_url_t *url)
{
    return url->rest_len > sizeof(".m3u8") - 1
           && ngx_strncmp(url->rest + url->rest_len - (sizeof(".m3u8") - 1),
                          ".m3u8", sizeof(".m3u8") - 1) == 0;
}


static ngx_int_t
ngx_mam_edge_headers(ngx_http_request_t *r, ngx_mam_edge_loc_conf_t *lcf,
    mam_edge_url_t *url)
{
    time_t       left;
    ngx_str_t    cc;
    const char  *type;

    type = mam_edge_content_type(url->rest, url->rest_len);
    if (type) {
        r->headers_out.content_type.data = (u_char *) type;
        r->headers_out.content_type.len = ngx_strlen(type);
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
    }

    left = url->exp - ngx_time();
    if (left > NGX_MAM_EDGE_MAX_AGE) {
        left = NGX_MAM_EDGE_MAX_AGE;
    }

    cc.data = ngx_pnalloc(r->pool, sizeof("private, max-age=")
                                   + NGX_TIME_T_LEN);
    if (cc.data == NULL) {
        return NGX_ERROR;
    }
    cc.len = ngx_sprintf(cc.data, "private, max-age=%T", left) - cc.data;

    /* a playlist grows while its ladder renders (EVENT) and becomes VOD
     * at the end: asked again each time, a 304 while it is unchanged */
    if (ngx_mam_edge_is_playlist(url)) {
        ngx_str_set(&cc, "private, no-cache");
    }

    if (ngx_mam_add_header(r, "Cache-Control", &cc) != NGX_OK
        || ngx_mam_edge_cors(r, lcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* {edge}d/{exp}/{sig}/{name}/{key}: the file at key as an attachment */
static ngx_int_t
ngx_mam_edge_download(ngx_http_request_t *r, ngx_mam_main_conf_t *mcf,
    ngx_mam_edge_loc_conf_t *lcf, ngx_str_t *path)
{
    char            *ip;
    u_char          *cd;
    size_t           skip;
    time_t           left;
    ngx_int_t        rc;
    ngx_str_t        uri, value, *location;
    mam_edge_dl_t   *dl;
    const char      *type;

    dl = ngx_palloc(r->pool, sizeof(mam_edge_dl_t));
    cd = ngx_pnalloc(r->pool, 2 * MAM_EDGE_NAME_MAX * 3 + 64);
    if (dl == NULL || cd == NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    rc = mam_edge_dl_parse((char *) path->data, path->len, dl);

    if (rc == MAM_EDGE_BAD) {
        return ngx_mam_edge_error(r, NGX_HTTP_BAD_REQUEST,
                                  "malformed download URL");
    }

    ip = NULL;
    if (mcf->edge_bind_ip) {
        ip = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));
        if (ip == NULL) {
            return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
    }

    if (rc != MAM_EDGE_OK
        || !(mam_edge_dl_verify(mcf->edge_key.data, mcf->edge_key.len, dl,
                                ip)
             || (mcf->edge_key_previous.len
                 && mam_edge_dl_verify(mcf->edge_key_previous.data,
                                       mcf->edge_key_previous.len, dl, ip))))
    {
        return ngx_mam_edge_error(r, NGX_HTTP_FORBIDDEN, "invalid signature");
    }

    if (dl->exp < ngx_time()) {
        return ngx_mam_edge_error(r, NGX_HTTP_GONE,
                                  "the download URL has expired");
    }

    if (ngx_strncmp(dl->key, "masters/", sizeof("masters/") - 1) == 0) {
        location = &lcf->edge_masters;
        skip = sizeof("masters/") - 1;

    } else {
        location = &lcf->edge_previews;
        skip = sizeof("previews/") - 1;
    }

    /* the disposition is the signed name's, whatever the query says */
    if (mam_edge_disposition(dl->name, (char *) cd,
                             2 * MAM_EDGE_NAME_MAX * 3 + 64)
        != 0)
    {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    value.data = cd;
    value.len = ngx_strlen(cd);

    type = mam_store_content_type(dl->key);
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    left = dl->exp - ngx_time();
    if (left > NGX_MAM_EDGE_MAX_AGE) {
        left = NGX_MAM_EDGE_MAX_AGE;
    }

    uri.data = ngx_pnalloc(r->pool, sizeof("private, max-age=")
                                    + NGX_TIME_T_LEN);
    if (uri.data == NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    uri.len = ngx_sprintf(uri.data, "private, max-age=%T", left) - uri.data;

    if (ngx_mam_add_header(r, "Content-Disposition", &value) != NGX_OK
        || ngx_mam_add_header(r, "Cache-Control", &uri) != NGX_OK
        || ngx_mam_add_header(r, "X-Content-Type-Options",
                              &(ngx_str_t) ngx_string("nosniff")) != NGX_OK
        || ngx_mam_edge_cors(r, lcf) != NGX_OK)
    {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    uri.len = location->len + dl->key_len - skip;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_sprintf(uri.data, "%V%s", location, dl->key + skip);

    r->expect_tested = 1;
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_mam_metrics_mark_edge(r);

    return ngx_http_internal_redirect(r, &uri, NULL);
}


/* --- revocation: the play epoch of the URL's asset ----------------------- */

static ngx_mam_edge_epoch_t *
ngx_mam_edge_epoch_slot(ngx_mam_main_conf_t *mcf, mam_edge_url_t *url)
{
    uint32_t  hash;

    hash = ngx_crc32_short((u_char *) url->asset_id, MAM_UUID_LEN);

    return &mcf->edge_epochs[hash % (ngx_uint_t) mcf->edge_epoch_slots];
}


/* the URL against the asset's current epoch: served, or 410 */
static ngx_int_t
ngx_mam_edge_epoch_verdict(ngx_http_request_t *r, mam_edge_url_t *url,
    ngx_uint_t current)
{
    if (url->epoch < current) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mam: edge: epoch %ui below %ui, revoked",
                       (ngx_uint_t) url->epoch, current);
        return ngx_mam_edge_error(r, NGX_HTTP_GONE,
                                  "the playback URL has been revoked");
    }

    return ngx_mam_edge_serve(r, url);
}


/* GET mam:play:{asset}: a missing key is epoch 0, anything but a number
 * (or no answer) leaves the asset's epoch unknown: 503, fail closed */
static void
ngx_mam_edge_epoch_read(ngx_http_request_t *r, redisReply *reply, void *data)
{
    mam_edge_url_t        *url = data;
    ngx_int_t              n;
    ngx_mam_edge_epoch_t  *slot;
    ngx_mam_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    n = -1;
    if (reply != NULL && reply->type == REDIS_REPLY_NIL) {
        n = 0;

    } else if (reply != NULL && reply->type == REDIS_REPLY_STRING
               && reply->len > 0 && reply->len <= 9)
    {
        n = ngx_atoi((u_char *) reply->str, reply->len);
    }

    if (n < 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mam: edge: the play epoch of %s is unknown (redis "
                      "%s), refused", url->asset_id,
                      reply ? "answered no number" : "unavailable");
        ngx_http_finalize_request(r,
            ngx_mam_edge_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "revocation state unavailable, retry"));
        return;
    }

    slot = ngx_mam_edge_epoch_slot(mcf, url);
    ngx_memcpy(slot->asset_id, url->asset_id, MAM_UUID_LEN);
    slot->epoch = (ngx_uint_t) n;
    slot->fetched = ngx_current_msec;
    slot->used = 1;

    ngx_http_finalize_request(r,
        ngx_mam_edge_epoch_verdict(r, url, (ngx_uint_t) n));
}


/*
 * The worker's entry when it is younger than mam_edge_epoch_ttl, else one
 * GET from Redis (the request waits on nginx events).  No PostgreSQL, and
 * no Redis per request: a busy asset costs one GET per worker per TTL.
 */
static ngx_int_t
ngx_mam_edge_epoch_check(ngx_http_request_t *r, ngx_mam_main_conf_t *mcf,
    mam_edge_url_t *url)
{
    char                  key[sizeof(MAM_EDGE_EPOCH_KEY) + MAM_UUID_LEN];
    const char           *argv[2];
    size_t                argvlen[2];
    ngx_mam_edge_epoch_t  *slot;

    if (mcf->edge_epochs == NULL) {
        return ngx_mam_edge_serve(r, url);
    }

    slot = ngx_mam_edge_epoch_slot(mcf, url);

    if (slot->used
        && ngx_memcmp(slot->asset_id, url->asset_id, MAM_UUID_LEN) == 0
        && ngx_current_msec - slot->fetched < mcf->edge_epoch_ttl)
    {
        return ngx_mam_edge_epoch_verdict(r, url, slot->epoch);
    }

    ngx_memcpy(key, MAM_EDGE_EPOCH_KEY, sizeof(MAM_EDGE_EPOCH_KEY) - 1);
    ngx_memcpy(key + sizeof(MAM_EDGE_EPOCH_KEY) - 1, url->asset_id,
               MAM_UUID_LEN);

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = key;
    argvlen[1] = sizeof(key) - 1;

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_edge_epoch_read, url, 2,
                              argv, argvlen)
        != NGX_OK)
    {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* held until the answer; a write event meanwhile must not run the
     * phases again */
    r->main->count++;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/* sets each key to its epoch unless it holds a higher one already (two
 * revocations racing), for as long as a URL signed before can live */
static const char  ngx_mam_edge_revoke_script[] =
    "for i = 1, #KEYS do "
    "  local e = tonumber(ARGV[i + 1]) "
    "  local cur = tonumber(redis.call('GET', KEYS[i]) or '0') or 0 "
    "  if e > cur then "
    "    redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) "
    "  end "
    "end "
    "return #KEYS";


static void
ngx_mam_edge_revoke_logged(redisReply *reply, void *data)
{
    (void) data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "mam: play epochs not published: redis %s",
                      reply ? reply->str : "unavailable");
    }
}


typedef struct {
    ngx_mam_redis_handler_pt  done;
    void                     *data;
} ngx_mam_edge_revoke_t;


static void
ngx_mam_edge_revoked(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_mam_edge_revoke_t  *rv = data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mam: play epochs not published: redis %s; revoked "
                      "URLs play until they expire",
                      reply ? reply->str : "unavailable");
    }

    rv->done(r, reply, rv->data);
}


/* one EVAL of the script for epochs[from, to) in pool's memory; with rv
 * the request r waits for its answer, else it is only logged */
static ngx_int_t
ngx_mam_edge_revoke_chunk(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_mam_main_conf_t *mcf, json_t *epochs, size_t from, size_t to,
    ngx_mam_edge_revoke_t *rv)
{
    int          argc;
    char        *key, *num;
    size_t       i, n;
    json_t      *e;
    const char  *asset, **argv;

    n = to - from;
    argc = (int) (4 + 2 * n);

    argv = ngx_palloc(pool, argc * sizeof(char *));
    key = ngx_pnalloc(pool, n * (sizeof(MAM_EDGE_EPOCH_KEY) + MAM_UUID_LEN));
    num = ngx_pnalloc(pool, (n + 1) * (NGX_INT_T_LEN + 1));
    if (argv == NULL || key == NULL || num == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "EVAL";
    argv[1] = ngx_mam_edge_revoke_script;
    argv[2] = ngx_mam_message(pool, "%uz", n);
    argv[3 + n] = num;
    num = (char *) ngx_sprintf((u_char *) num, "%d%Z",
                               NGX_MAM_EDGE_EPOCH_WINDOW);

    for (i = 0; i < n; i++) {
        e = json_array_get(epochs, from + i);
        asset = json_string_value(json_object_get(e, "asset_id"));
        if (asset == NULL || !mam_uuid_valid(asset, ngx_strlen(asset))
            || !json_is_integer(json_object_get(e, "epoch")))
        {
            return NGX_ERROR;
        }

        argv[3 + i] = key;
        key = (char *) ngx_sprintf((u_char *) key, MAM_EDGE_EPOCH_KEY "%s%Z",
                                   asset);
        argv[4 + n + i] = num;
        num = (char *) ngx_sprintf((u_char *) num, "%L%Z",
                                   (int64_t) json_integer_value(
                                       json_object_get(e, "epoch")));
    }

    if (argv[2] == NULL) {
        return NGX_ERROR;
    }

    if (rv == NULL) {
        return ngx_mam_redis_task_command(mcf->redis,
                                          ngx_mam_edge_revoke_logged, NULL,
                                          argc, argv, NULL);
    }

    return ngx_mam_redis_command(r, mcf->redis, ngx_mam_edge_revoked, rv,
                                 argc, argv, NULL);
}


void
ngx_mam_edge_revoke(ngx_http_request_t *r, json_t *epochs,
    ngx_mam_redis_handler_pt done, void *data)
{
    size_t                  n, from, to;
    ngx_mam_main_conf_t    *mcf;
    ngx_mam_edge_revoke_t  *rv;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    n = json_array_size(epochs);
    if (n == 0 || mcf->redis == NULL) {
        done(r, NULL, data);
        return;
    }

    rv = ngx_palloc(r->pool, sizeof(ngx_mam_edge_revoke_t));
    if (rv == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    rv->done = done;
    rv->data = data;

    /* the chunks go out in order on one connection: when the last one
     * answers, Redis has applied them all */
    for (from = 0; from < n; from = to) {
        to = ngx_min(n, from + NGX_MAM_EDGE_REVOKE_CHUNK);

        if (ngx_mam_edge_revoke_chunk(r, r->pool, mcf, epochs, from, to,
                                      to == n ? rv : NULL)
            != NGX_OK)
        {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }
}


/*
 * Worker 0 of an API host publishes the epochs of the last hour again
 * every mam_preview_reconcile_interval (mam_play_recent()): a Redis that
 * restarted without its data learns back the revocations that still
 * matter.  The script only ever raises a key, so this never undoes a
 * newer epoch.
 */
static ngx_event_t  ngx_mam_edge_heal_event;


static void
ngx_mam_edge_heal_read(PGresult *res, void *data)
{
    size_t                from, to, n;
    json_t               *epochs;
    ngx_pool_t           *pool = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    epochs = ngx_mam_pg_json(pool, res);
    n = json_array_size(epochs);

    for (from = 0; from < n; from = to) {
        to = ngx_min(n, from + NGX_MAM_EDGE_REVOKE_CHUNK);

        if (ngx_mam_edge_revoke_chunk(NULL, pool, mcf, epochs, from, to,
                                      NULL)
            != NGX_OK)
        {
            break;
        }
    }

    /* hiredis copied the commands */
    ngx_destroy_pool(pool);

    ngx_mam_timer_again(&ngx_mam_edge_heal_event, mcf->reconcile_interval);
}


static void
ngx_mam_edge_heal(ngx_event_t *ev)
{
    ngx_pool_t           *pool;
    ngx_mam_main_conf_t  *mcf;

    (void) ev;

    if (ngx_mam_shutting_down()) {
        return;
    }

    mcf = ngx_mam_main_conf();

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL
        || ngx_mam_pg_task_query(mcf->pg, pool, "SELECT mam_play_recent()",
                                 0, NULL, ngx_mam_edge_heal_read, pool)
           != NGX_OK)
    {
        if (pool) {
            ngx_destroy_pool(pool);
        }
        ngx_mam_timer_again(&ngx_mam_edge_heal_event,
                            mcf->reconcile_interval);
    }
}


ngx_int_t
ngx_mam_edge_init_process(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf)
{
    if (mcf->api_used && mcf->redis_addr.data && mcf->pg
        && ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)
    {
        ngx_mam_timer_start(&ngx_mam_edge_heal_event, ngx_mam_edge_heal,
                            NULL, ngx_min(mcf->reconcile_interval, 1000));
    }

    if (!mcf->edge_used || !mcf->edge_revocation
        || mcf->redis_addr.data == NULL)
    {
        return NGX_OK;
    }

    /* an edge-only host: its own client, for these GETs only */
    if (mcf->redis == NULL) {
        mcf->redis = ngx_mam_redis_create(cycle, mcf, NULL);
        if (mcf->redis == NULL) {
            return NGX_ERROR;
        }
    }

    mcf->edge_epochs = ngx_pcalloc(cycle->pool,
                                   (size_t) mcf->edge_epoch_slots
                                   * sizeof(ngx_mam_edge_epoch_t));

    return mcf->edge_epochs ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_mam_edge_handler(ngx_http_request_t *r)
{
    u_char                    *p, *dot;
    ngx_int_t                  rc;
    ngx_str_t                  path;
    ngx_str_t                  allow = ngx_string("GET, HEAD, OPTIONS");
    mam_edge_url_t            *url;
    ngx_mam_edge_loc_conf_t        *lcf;
    ngx_mam_main_conf_t       *mcf;
    ngx_http_core_loc_conf_t  *clcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_mam_edge_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_mam_edge_preflight(r, lcf);
    }

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        (void) ngx_mam_add_header(r, "Allow", &allow);
        return ngx_mam_edge_error(r, NGX_HTTP_NOT_ALLOWED, NULL);
    }

    url = ngx_palloc(r->pool, sizeof(mam_edge_url_t));
    if (url == NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_mam_edge_raw_path(r, &clcf->name, &path) != NGX_OK) {
        return ngx_mam_edge_error(r, NGX_HTTP_BAD_REQUEST,
                                  "malformed playback URL");
    }

    /* a download URL: playback URLs start with a digit */
    if (path.len > 2 && path.data[0] == 'd' && path.data[1] == '/') {
        path.data += 2;
        path.len -= 2;
        return ngx_mam_edge_download(r, mcf, lcf, &path);
    }

    rc = mam_edge_parse((char *) path.data, path.len, url);

    if (rc == MAM_EDGE_BAD) {
        return ngx_mam_edge_error(r, NGX_HTTP_BAD_REQUEST,
                                  "malformed playback URL");
    }

    if (rc != MAM_EDGE_OK || !ngx_mam_edge_signed(r, mcf, url)) {
        return ngx_mam_edge_error(r, NGX_HTTP_FORBIDDEN,
                                  "invalid signature");
    }

    if (url->exp < ngx_time()) {
        return ngx_mam_edge_error(r, NGX_HTTP_GONE,
                                  "the playback URL has expired");
    }

    /* a name without an extension is no file we publish (and may be a
     * folder, which the static module would answer with a redirect) */
    p = (u_char *) url->rest;
    dot = (u_char *) strrchr((char *) p, '.');
    if (dot == NULL || ngx_strchr(dot, '/') != NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_NOT_FOUND, "no such file");
    }

    /* a rendition's file to download lies in the preview folder, but is
     * a download's (can_download), never a playback signature's */
    if (ngx_strncmp(p, "downloads/", sizeof("downloads/") - 1) == 0) {
        return ngx_mam_edge_error(r, NGX_HTTP_NOT_FOUND, "no such file");
    }

    return ngx_mam_edge_epoch_check(r, mcf, url);
}


static void
ngx_mam_edge_set_variable(ngx_http_request_t *r, ngx_int_t index,
    u_char *data, size_t len)
{
    ngx_http_variable_value_t  *v;

    v = &r->variables[index];
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}


/*
 * The edge cache's key of the file (README, S3 edge cache):
 * "{asset}/{version}/{epoch}/{rest}", never the URL's exp, signature or
 * client.  The epoch is the asset's current one (a URL below it was
 * refused), which a replaced ladder also bumps: the key holds the ladder's
 * generation.  Playlists are never cached: an EVENT playlist grows while
 * its ladder renders.  Kept in request variables, which survive the
 * internal redirect (module contexts do not).
 */
static ngx_int_t
ngx_mam_edge_cache_variables(ngx_http_request_t *r, mam_edge_url_t *url)
{
    u_char               *key, *last;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    key = ngx_pnalloc(r->pool, 2 * (MAM_UUID_LEN + 1) + NGX_INT_T_LEN + 1
                               + url->rest_len);
    if (key == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(key, "%s/%s/%ui/%s", url->asset_id, url->version_id,
                       (ngx_uint_t) url->epoch, url->rest);

    ngx_mam_edge_set_variable(r, mcf->edge_cache_key_index, key, last - key);

    if (ngx_mam_edge_is_playlist(url)) {
        ngx_mam_edge_set_variable(r, mcf->edge_no_cache_index,
                                  (u_char *) "1", 1);

    } else {
        ngx_mam_edge_set_variable(r, mcf->edge_no_cache_index,
                                  (u_char *) "", 0);
    }

    return NGX_OK;
}


/* the URL is valid and not revoked: the file, from the previews location */
static ngx_int_t
ngx_mam_edge_serve(ngx_http_request_t *r, mam_edge_url_t *url)
{
    ngx_str_t                 uri;
    ngx_mam_edge_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_mam_edge_module);

    if (ngx_mam_edge_headers(r, lcf, url) != NGX_OK
        || ngx_mam_edge_cache_variables(r, url) != NGX_OK)
    {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    uri.len = lcf->edge_previews.len + 2 * (MAM_UUID_LEN + 1) + url->rest_len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return ngx_mam_edge_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_sprintf(uri.data, "%V%s/%s/%s", &lcf->edge_previews, url->asset_id,
                url->version_id, url->rest);

    r->expect_tested = 1;
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_mam_metrics_mark_edge(r);

    return ngx_http_internal_redirect(r, &uri, NULL);
}


/*
 * `location @mam_not_found { mam_edge_not_found; }`, the previews
 * location's error_page for 404: JSON, and not the Content-Type the edge
 * chose for the file that was not there.
 */
ngx_int_t
ngx_mam_edge_not_found_handler(ngx_http_request_t *r)
{
    return ngx_mam_edge_error(r, NGX_HTTP_NOT_FOUND, "no such file");
}


/* --- S3: the previews location proxies to the bucket ---------------------- */

/*
 * $mam_s3_uri, $mam_s3_host, $mam_s3_date and $mam_s3_authorization sign
 * the request the previews location sends to the previews bucket:
 *
 *   location /_mam_previews/ {
 *       internal;
 *       proxy_pass http://S3-IP:PORT$mam_s3_uri;
 *       proxy_set_header Host $mam_s3_host;
 *       proxy_set_header x-amz-date $mam_s3_date;
 *       proxy_set_header x-amz-content-sha256 UNSIGNED-PAYLOAD;
 *       proxy_set_header Authorization $mam_s3_authorization;
 *   }
 *
 * Range and conditional headers pass through unsigned, as S3 allows.
 */

typedef struct {
    ngx_str_t   uri;
    ngx_str_t   host;
    ngx_str_t   date;
    ngx_str_t   authorization;
} ngx_mam_s3_sig_t;


static ngx_mam_s3_sig_t *
ngx_mam_edge_s3_sign(ngx_http_request_t *r)
{
    u_char               *key;
    char                  path[2400], host[300], date[17], auth[1024];
    size_t                n;
    long                  len;
    ngx_str_t             rest;
    const char           *bucket, *method;
    mam_sigv4_req_t       sr;
    ngx_mam_s3_sig_t     *sig;
    ngx_mam_edge_loc_conf_t   *lcf;
    ngx_mam_main_conf_t  *mcf;
    mam_sigv4_creds_t     cr;

    sig = ngx_http_get_module_ctx(r, ngx_mam_edge_s3_module_tag);
    if (sig) {
        return sig;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_mam_edge_module);

    if (mcf->s3 == NULL || r->uri.len <= lcf->edge_previews.len
        || ngx_strncmp(r->uri.data, lcf->edge_previews.data,
                       lcf->edge_previews.len) != 0)
    {
        return NULL;
    }

    rest.data = r->uri.data + lcf->edge_previews.len;
    rest.len = r->uri.len - lcf->edge_previews.len;

    key = ngx_pnalloc(r->pool, sizeof(MAM_AREA_PREVIEWS) + rest.len);
    sig = ngx_pcalloc(r->pool, sizeof(ngx_mam_s3_sig_t));
    if (key == NULL || sig == NULL) {
        return NULL;
    }
    *ngx_sprintf(key, MAM_AREA_PREVIEWS "%V", &rest) = '\0';
    if (!mam_key_valid((char *) key, ngx_strlen(key))) {
        return NULL;
    }

    bucket = mam_store_bucket(mcf->store, (char *) key);
    if (bucket == NULL) {
        return NULL;
    }

    if (mcf->s3->path_style) {
        ngx_snprintf((u_char *) host, sizeof(host), "%s%Z", mcf->s3->host);
        ngx_snprintf((u_char *) path, sizeof(path), "/%s/%s%Z", bucket, key);
    } else {
        ngx_snprintf((u_char *) host, sizeof(host), "%s.%s%Z", bucket,
                     mcf->s3->host);
        ngx_snprintf((u_char *) path, sizeof(path), "/%s%Z", key);
    }

    mam_sigv4_amz_date(ngx_time(), date);

    method = r->method == NGX_HTTP_HEAD ? "HEAD" : "GET";

    ngx_memzero(&sr, sizeof(sr));
    sr.method = method;
    sr.path = path;
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "host", host };
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "x-amz-date", date };
    sr.headers[sr.nheaders++] = (mam_sigv4_pair_t) { "x-amz-content-sha256",
                                                     MAM_SIGV4_UNSIGNED };
    sr.payload_hash = MAM_SIGV4_UNSIGNED;

    cr = (mam_sigv4_creds_t) { mcf->s3->access_key, mcf->s3->secret_key,
                               mcf->s3->region, "s3" };

    if (mam_sigv4_authorization(&cr, &sr, date, auth, sizeof(auth)) != 0) {
        return NULL;
    }

    n = ngx_strlen(path) * 3 + 1;
    sig->uri.data = ngx_pnalloc(r->pool, n);
    if (sig->uri.data == NULL) {
        return NULL;
    }
    len = mam_sigv4_uri_encode(path, ngx_strlen(path), 1,
                               (char *) sig->uri.data, n);
    if (len < 0) {
        return NULL;
    }
    sig->uri.len = (size_t) len;

    sig->host.len = ngx_strlen(host);
    sig->host.data = ngx_pstrdup(r->pool, &(ngx_str_t) { sig->host.len,
                                                         (u_char *) host });
    sig->date.len = 16;
    sig->date.data = ngx_pstrdup(r->pool, &(ngx_str_t) { 16, (u_char *) date });
    sig->authorization.len = ngx_strlen(auth);
    sig->authorization.data = ngx_pstrdup(r->pool,
                                          &(ngx_str_t) { sig->authorization.len,
                                                         (u_char *) auth });
    ngx_memzero(auth, sizeof(auth));

    if (sig->host.data == NULL || sig->date.data == NULL
        || sig->authorization.data == NULL)
    {
        return NULL;
    }

    ngx_http_set_ctx(r, sig, ngx_mam_edge_s3_module_tag);

    return sig;
}


static ngx_int_t
ngx_mam_edge_s3_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t         *s;
    ngx_mam_s3_sig_t  *sig;

    sig = ngx_mam_edge_s3_sign(r);
    if (sig == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) sig + data);

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $mam_edge_cache_key and $mam_edge_no_cache outside a request the edge
 * handed over: not found */
static ngx_int_t
ngx_mam_edge_unset_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}


static ngx_http_variable_t  ngx_mam_edge_variables[] = {
    { ngx_string("mam_edge_cache_key"), NULL, ngx_mam_edge_unset_variable,
      0, 0, 0 },
    { ngx_string("mam_edge_no_cache"), NULL, ngx_mam_edge_unset_variable,
      0, 0, 0 },
    { ngx_string("mam_s3_uri"), NULL, ngx_mam_edge_s3_variable,
      offsetof(ngx_mam_s3_sig_t, uri), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("mam_s3_host"), NULL, ngx_mam_edge_s3_variable,
      offsetof(ngx_mam_s3_sig_t, host), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("mam_s3_date"), NULL, ngx_mam_edge_s3_variable,
      offsetof(ngx_mam_s3_sig_t, date), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("mam_s3_authorization"), NULL, ngx_mam_edge_s3_variable,
      offsetof(ngx_mam_s3_sig_t, authorization), NGX_HTTP_VAR_NOCACHEABLE,
      0 },
    ngx_http_null_variable
};


ngx_int_t
ngx_mam_edge_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;
    ngx_mam_main_conf_t  *mcf;

    if (ngx_mam_metrics_add_variable(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    for (v = ngx_mam_edge_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);

    mcf->edge_cache_key_index = ngx_http_get_variable_index(cf,
                                    &ngx_mam_edge_variables[0].name);
    mcf->edge_no_cache_index = ngx_http_get_variable_index(cf,
                                    &ngx_mam_edge_variables[1].name);

    if (mcf->edge_cache_key_index == NGX_ERROR
        || mcf->edge_no_cache_index == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* --- POST /api/sign-preview ---------------------------------------------- */

/* what mam_preview_playable() answers besides "ok" */
static const ngx_mam_outcome_t  ngx_mam_sign_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset or version",
      NULL },
    { MAM_OUTCOME_NOT_READY, NGX_HTTP_CONFLICT, "the preview is not ready",
      NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


void
ngx_mam_sign_found(ngx_http_request_t *r, PGresult *res, void *data)
{
    char                  *ip, *url;
    size_t                 size;
    json_t                *v, *body;
    time_t                 exp;
    json_int_t             epoch;
    u_char                 when[sizeof("1970-01-01T00:00:00Z")];
    const char            *asset, *version;
    ngx_tm_t               tm;
    ngx_mam_sign_t        *sg = data;
    ngx_mam_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    v = ngx_mam_outcome_ok(r, res, ngx_mam_sign_outcomes);
    if (v == NULL) {
        return;
    }

    asset = json_string_value(json_object_get(v, "asset_id"));
    version = json_string_value(json_object_get(v, "version_id"));
    epoch = json_integer_value(json_object_get(v, "epoch"));
    if (asset == NULL || version == NULL || epoch < 0) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ip = NULL;
    if (mcf->edge_bind_ip) {
        ip = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));
    }

    exp = ngx_time() + sg->ttl;
    size = mcf->edge_url.len + 256;
    url = ngx_pnalloc(r->pool, size);
    if (url == NULL || (mcf->edge_bind_ip && ip == NULL)) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_memcpy(url, mcf->edge_url.data, mcf->edge_url.len);

    if (mam_edge_sign(mcf->edge_key.data, mcf->edge_key.len, exp,
                      (unsigned long) epoch, asset, version, "index.m3u8",
                      ip, url + mcf->edge_url.len,
                      size - mcf->edge_url.len)
        != 0)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_gmtime(exp, &tm);
    *ngx_sprintf(when, "%4d-%02d-%02dT%02d:%02d:%02dZ", tm.ngx_tm_year,
                 tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                 tm.ngx_tm_min, tm.ngx_tm_sec) = '\0';

    body = json_pack("{s:s, s:s}", "url", url, "expires_at", (char *) when);
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


ngx_int_t
ngx_mam_sign_preview_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    json_t           *ttl;
    ngx_int_t         rc;
    ngx_str_t         asset, version;
    json_int_t        n;
    const char      **values, *message;
    ngx_mam_sign_t   *sg;

    if (ngx_mam_body_string(r, ctx, "asset_id", 1, MAM_UUID_LEN, 1, &asset,
                            &message) != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (!mam_uuid_valid((char *) asset.data, asset.len)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "asset_id: must be a UUID");
    }

    rc = ngx_mam_body_string(r, ctx, "version_id", 1, MAM_UUID_LEN, 0,
                             &version, &message);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && !mam_uuid_valid((char *) version.data, version.len)))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "version_id: must be a UUID");
    }

    sg = ngx_pcalloc(r->pool, sizeof(ngx_mam_sign_t));
    values = ngx_pcalloc(r->pool, 6 * sizeof(char *));
    if (sg == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* api.md: clamped to 60..3600, 900 by default */
    sg->ttl = 900;
    ttl = json_object_get(ctx->body, "ttl_sec");
    if (ttl != NULL && !json_is_null(ttl)) {
        if (!json_is_integer(ttl)) {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "ttl_sec: must be an integer");
        }
        n = json_integer_value(ttl);
        sg->ttl = n < 60 ? 60 : n > 3600 ? 3600 : (time_t) n;
    }

    values[0] = ngx_mam_cstr(r->pool, &asset);
    values[1] = rc == NGX_OK ? ngx_mam_cstr(r->pool, &version) : NULL;

    /* scoped by the caller's projects, and audited (play_sign) */
    values[2] = ctx->user.sub;
    values[3] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[4] = ngx_mam_message(r->pool, "%T", sg->ttl);
    values[5] = ngx_mam_ip(r);

    if (values[0] == NULL || values[4] == NULL
        || ngx_mam_pg_query(r, "SELECT mam_preview_playable($1, $2, $3, $4, "
                               "$5, $6)", 6,
                            values, ngx_mam_sign_found, sg)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- POST /api/versions/:id/download ------------------------------------ */

#define NGX_MAM_DOWNLOAD_TTL      300
#define NGX_MAM_DOWNLOAD_URL_LEN  8192


static const ngx_mam_outcome_t  ngx_mam_download_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND,
      "no such version or rendition", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "downloads need can_download in the asset's project", NULL },
    { MAM_OUTCOME_NOT_READY, NGX_HTTP_CONFLICT,
      "the rendition has no file of its own to download", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* the signed URL of v's key under v's file name: the edge's (local
 * storage), or a presigned GET of the bucket (S3) */
static char *
ngx_mam_download_url(ngx_http_request_t *r, ngx_mam_main_conf_t *mcf,
    const char *key, const char *filename, time_t exp)
{
    char              *ip, *url, *name, *cd;
    const char        *bucket;
    mam_sigv4_pair_t   q[1];

    url = ngx_pnalloc(r->pool, NGX_MAM_DOWNLOAD_URL_LEN);
    name = ngx_pnalloc(r->pool, 3 * MAM_EDGE_NAME_MAX + 1);
    cd = ngx_pnalloc(r->pool, 6 * MAM_EDGE_NAME_MAX + 64);
    if (url == NULL || name == NULL || cd == NULL
        || mam_edge_name_encode(filename, name, 3 * MAM_EDGE_NAME_MAX + 1)
           == 0)
    {
        return NULL;
    }

    if (mcf->s3 != NULL) {
        bucket = mam_store_bucket(mcf->store, key);
        if (bucket == NULL
            || mam_edge_disposition(name, cd, 6 * MAM_EDGE_NAME_MAX + 64)
               != 0)
        {
            return NULL;
        }

        q[0] = (mam_sigv4_pair_t) { "response-content-disposition", cd };

        return mam_s3_presign_query(mcf->s3, "GET", bucket, key, NULL, 0,
                                    q, 1, (long) (exp - ngx_time()), url,
                                    NGX_MAM_DOWNLOAD_URL_LEN)
               == 0 ? url : NULL;
    }

    ip = NULL;
    if (mcf->edge_bind_ip) {
        ip = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));
        if (ip == NULL) {
            return NULL;
        }
    }

    if (mcf->edge_url.len >= NGX_MAM_DOWNLOAD_URL_LEN) {
        return NULL;
    }

    ngx_memcpy(url, mcf->edge_url.data, mcf->edge_url.len);

    return mam_edge_dl_sign(mcf->edge_key.data, mcf->edge_key.len, exp, name,
                            key, ip, url + mcf->edge_url.len,
                            NGX_MAM_DOWNLOAD_URL_LEN - mcf->edge_url.len)
           == 0 ? url : NULL;
}


void
ngx_mam_download_found(ngx_http_request_t *r, PGresult *res, void *data)
{
    char                 *url;
    json_t               *v, *body;
    time_t                exp;
    u_char                when[sizeof("1970-01-01T00:00:00Z")];
    ngx_tm_t              tm;
    const char           *key, *filename;
    ngx_mam_main_conf_t  *mcf;

    (void) data;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    v = ngx_mam_outcome_ok(r, res, ngx_mam_download_outcomes);
    if (v == NULL) {
        return;
    }

    key = json_string_value(json_object_get(v, "key"));
    filename = json_string_value(json_object_get(v, "filename"));
    exp = ngx_time() + NGX_MAM_DOWNLOAD_TTL;

    url = (key && filename) ? ngx_mam_download_url(r, mcf, key, filename, exp)
                            : NULL;
    if (url == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_gmtime(exp, &tm);
    *ngx_sprintf(when, "%4d-%02d-%02dT%02d:%02d:%02dZ", tm.ngx_tm_year,
                 tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                 tm.ngx_tm_min, tm.ngx_tm_sec) = '\0';

    body = json_pack("{s:s, s:s, s:s}", "url", url, "expires_at",
                     (char *) when, "filename", filename);
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        json_decref(body);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


static const ngx_mam_field_t  ngx_mam_version_download_fields[] = {
    { "rendition", ngx_mam_field_text, 1, 64, 1 },
    { NULL, NULL, 0, 0, 0 }
};


/* POST /api/versions/:id/download {rendition: NAME | "original"}: members
 * with can_download and admins; audited (download) */
const ngx_mam_statement_t  ngx_mam_version_download = {
    "SELECT mam_version_download($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_IP },
    ngx_mam_version_download_fields, 0, NULL,
    ngx_mam_download_found, ngx_mam_download_outcomes, NGX_HTTP_OK, NULL
};


/* --- the edge module: mam_edge locations ---------------------------------- */

/* location /s/ { mam_edge; }: signed playback URLs */
static char *
ngx_mam_edge_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mam_edge_loc_conf_t   *elcf = conf;
    ngx_mam_main_conf_t       *mcf;
    ngx_http_core_loc_conf_t  *clcf;

    (void) cmd;

    if (elcf->edge) {
        return "is duplicate";
    }

    clcf = ngx_mam_conf_prefix_location(cf);
    if (clcf == NULL) {
        return "must be in a prefix location ending in \"/\"";
    }

    elcf->edge = 1;
    clcf->handler = ngx_mam_edge_handler;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);
    mcf->edge_used = 1;

    return NGX_CONF_OK;
}


static void *
ngx_mam_edge_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_mam_edge_loc_conf_t));
}


/* mam_edge itself is per location; the previews prefix and CORS origin are
 * inherited */
static char *
ngx_mam_edge_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_mam_edge_loc_conf_t  *prev = parent;
    ngx_mam_edge_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->edge_previews, prev->edge_previews,
                             "/_mam_previews/");
    ngx_conf_merge_str_value(conf->edge_masters, prev->edge_masters,
                             "/_mam_masters/");
    ngx_conf_merge_str_value(conf->edge_cors_origin, prev->edge_cors_origin,
                             "*");

    if (conf->edge_previews.data[0] != '/'
        || conf->edge_previews.data[conf->edge_previews.len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_edge_previews\" must be a location prefix "
                           "such as /_mam_previews/");
        return NGX_CONF_ERROR;
    }

    if (conf->edge_masters.data[0] != '/'
        || conf->edge_masters.data[conf->edge_masters.len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mam_edge_masters\" must be a location prefix "
                           "such as /_mam_masters/");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_mam_conf_handler_t  ngx_mam_edge_not_found_location = {
    ngx_mam_edge_not_found_handler
};


static ngx_command_t  ngx_mam_edge_commands[] = {

    { ngx_string("mam_edge"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_edge_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mam_edge_not_found"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_conf_set_location_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_mam_edge_not_found_location },

    { ngx_string("mam_edge_previews"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mam_edge_loc_conf_t, edge_previews),
      NULL },

    { ngx_string("mam_edge_masters"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mam_edge_loc_conf_t, edge_masters),
      NULL },

    { ngx_string("mam_edge_cors_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mam_edge_loc_conf_t, edge_cors_origin),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_mam_edge_module_ctx = {
    ngx_mam_edge_add_variables,            /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    ngx_mam_edge_create_loc_conf,          /* create location configuration */
    ngx_mam_edge_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_mam_edge_module = {
    NGX_MODULE_V1,
    &ngx_mam_edge_module_ctx,              /* module context */
    ngx_mam_edge_commands,                 /* module directives */
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
