/*
 * GET /api/preview/events?asset_id=: Server-Sent Events of an asset's
 * preview status.  Each worker holds one Redis connection SUBSCRIBEd to
 * mam:previews and fans every message out to its own waiting clients, so
 * a change made through any worker (or host) reaches every subscriber.
 * Clients are kept in a per-worker queue; one timer pings them all.
 *
 * A client that goes away is noticed by ngx_http_test_reading and its
 * request pool cleanup takes it off the queue at once.  On a graceful
 * shutdown (reload) the connections are marked idle, so nginx closes them
 * and EventSource reconnects to a new worker.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_preview.h"


#define NGX_MAM_EVENTS_BUF       2048
#define NGX_MAM_EVENTS_MAX_BUSY  64       /* buffers waiting on a slow client */


typedef struct {
    ngx_queue_t                queue;
    ngx_http_request_t        *r;
    char                       asset_id[MAM_UUID_LEN + 1];
    ngx_chain_t               *free;
    ngx_chain_t               *busy;
    ngx_uint_t                 nbusy;
    unsigned                   closed:1;
} ngx_mam_sub_t;


static ngx_queue_t       ngx_mam_events_subs;
static ngx_uint_t        ngx_mam_events_nsubs;
static ngx_event_t       ngx_mam_events_ping_ev;
static ngx_mam_redis_t  *ngx_mam_events_redis;


static void
ngx_mam_events_close(ngx_mam_sub_t *sub, ngx_int_t rc)
{
    ngx_http_request_t  *r = sub->r;

    if (sub->closed) {
        return;
    }

    sub->closed = 1;
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(r->connection);
}


static void
ngx_mam_events_update(ngx_mam_sub_t *sub, ngx_chain_t **out)
{
    ngx_chain_t  *cl;

    ngx_chain_update_chains(sub->r->pool, &sub->free, &sub->busy, out,
                            (ngx_buf_tag_t) &ngx_mam_module);

    sub->nbusy = 0;
    for (cl = sub->busy; cl; cl = cl->next) {
        sub->nbusy++;
    }
}


/* more to send than the socket took: wait for it to drain */
static ngx_int_t
ngx_mam_events_arm(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->connection->buffered && !wev->ready && !wev->timer_set) {
        ngx_add_timer(wev, clcf->send_timeout);

    } else if (!r->connection->buffered && wev->timer_set) {
        ngx_del_timer(wev);
    }

    return ngx_handle_write_event(wev, clcf->send_lowat);
}


/* one SSE frame to one client; a client too slow to keep up is dropped */
static void
ngx_mam_events_send(ngx_mam_sub_t *sub, u_char *data, size_t len)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r = sub->r;

    if (sub->closed) {
        return;
    }

    if (sub->nbusy >= NGX_MAM_EVENTS_MAX_BUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mam: events client too slow, closing");
        ngx_mam_events_close(sub, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    cl = ngx_chain_get_free_buf(r->pool, &sub->free);
    if (cl == NULL) {
        ngx_mam_events_close(sub, NGX_ERROR);
        return;
    }

    b = cl->buf;

    if (b->start == NULL || (size_t) (b->end - b->start) < len) {
        b->start = ngx_palloc(r->pool, ngx_max(len, NGX_MAM_EVENTS_BUF));
        if (b->start == NULL) {
            ngx_mam_events_close(sub, NGX_ERROR);
            return;
        }
        b->end = b->start + ngx_max(len, NGX_MAM_EVENTS_BUF);
    }

    b->pos = b->start;
    b->last = ngx_cpymem(b->start, data, len);
    b->memory = 1;
    b->flush = 1;
    b->tag = (ngx_buf_tag_t) &ngx_mam_module;

    rc = ngx_http_output_filter(r, cl);

    ngx_mam_events_update(sub, &cl);

    if (rc == NGX_ERROR || ngx_mam_events_arm(r) != NGX_OK) {
        ngx_mam_events_close(sub, NGX_ERROR);
    }
}


static void
ngx_mam_events_writer(ngx_http_request_t *r)
{
    ngx_int_t       rc;
    ngx_chain_t    *out;
    ngx_mam_ctx_t  *ctx;
    ngx_mam_sub_t  *sub;

    ctx = ngx_http_get_module_ctx(r, ngx_mam_module);
    sub = ctx->data;

    if (r->connection->write->timedout) {
        r->connection->timedout = 1;
        ngx_mam_events_close(sub, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    out = NULL;
    ngx_mam_events_update(sub, &out);

    if (rc == NGX_ERROR || ngx_mam_events_arm(r) != NGX_OK) {
        ngx_mam_events_close(sub, NGX_ERROR);
    }
}


static void
ngx_mam_events_cleanup(void *data)
{
    ngx_mam_sub_t  *sub = data;

    sub->closed = 1;
    ngx_queue_remove(&sub->queue);
    ngx_mam_events_nsubs--;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "mam: events client of %s left, %ui in this worker",
                  sub->asset_id, ngx_mam_events_nsubs);
}


/* "event: status\ndata: {json}\n\n" for a status object */
static u_char *
ngx_mam_events_frame(ngx_pool_t *pool, json_t *status, size_t *len)
{
    char    *text;
    size_t   n;
    u_char  *frame;

    text = json_dumps(status, NGX_MAM_JSON_FLAGS);
    if (text == NULL) {
        return NULL;
    }

    n = ngx_strlen(text);
    frame = ngx_pnalloc(pool, sizeof("event: status\ndata: \n\n") + n);
    if (frame != NULL) {
        *len = ngx_sprintf(frame, "event: status\ndata: %s\n\n", text) - frame;
    }

    free(text);

    return frame;
}


/* --- the per-worker subscription ----------------------------------------- */

static void
ngx_mam_events_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    size_t          len;
    u_char         *frame;
    json_t         *event, *status;
    ngx_pool_t     *pool;
    redisReply     *rr = reply;
    const char     *asset;
    ngx_queue_t    *q, *next;
    ngx_mam_sub_t  *sub;

    (void) ac;
    (void) privdata;

    if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || rr->elements != 3
        || rr->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(rr->element[0]->str, "message") != 0
        || rr->element[2]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    event = json_loadb(rr->element[2]->str, rr->element[2]->len, 0, NULL);
    asset = json_string_value(json_object_get(event, "asset_id"));
    status = json_object_get(event, "status");

    pool = NULL;
    if (asset != NULL && json_is_object(status)) {
        pool = ngx_create_pool(1024, ngx_cycle->log);
    }

    frame = pool ? ngx_mam_events_frame(pool, status, &len) : NULL;

    for (q = ngx_queue_head(&ngx_mam_events_subs);
         frame && q != ngx_queue_sentinel(&ngx_mam_events_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_mam_sub_t, queue);

        if (ngx_strcmp(sub->asset_id, asset) == 0) {
            ngx_mam_events_send(sub, frame, len);
        }
    }

    if (pool) {
        ngx_destroy_pool(pool);
    }

    json_decref(event);
}


/* on every (re)connection of the worker's subscriber client */
static void
ngx_mam_events_connected(ngx_mam_redis_t *rd)
{
    redisAsyncContext  *ac;

    ac = ngx_mam_redis_context(rd);
    if (ac == NULL) {
        return;
    }

    if (redisAsyncCommand(ac, ngx_mam_events_message, NULL,
                          "SUBSCRIBE " NGX_MAM_PREVIEW_CHANNEL)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "mam: cannot subscribe to " NGX_MAM_PREVIEW_CHANNEL);
    }
}


static void
ngx_mam_events_ping(ngx_event_t *ev)
{
    ngx_queue_t          *q, *next;
    ngx_mam_sub_t        *sub;
    ngx_mam_main_conf_t  *mcf;

    static u_char  ping[] = ": ping\n\n";

    for (q = ngx_queue_head(&ngx_mam_events_subs);
         q != ngx_queue_sentinel(&ngx_mam_events_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_mam_sub_t, queue);
        ngx_mam_events_send(sub, ping, sizeof(ping) - 1);
    }

    mcf = ngx_mam_main_conf();

    ngx_mam_timer_again(ev, mcf->events_ping);
}


ngx_int_t
ngx_mam_events_init(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf)
{
    ngx_queue_init(&ngx_mam_events_subs);
    ngx_mam_events_nsubs = 0;

    ngx_mam_events_redis = ngx_mam_redis_create(cycle, mcf,
                                                ngx_mam_events_connected);
    if (ngx_mam_events_redis == NULL) {
        return NGX_ERROR;
    }

    ngx_mam_timer_start(&ngx_mam_events_ping_ev, ngx_mam_events_ping, NULL,
                        mcf->events_ping);

    return NGX_OK;
}


void
ngx_mam_events_exit(void)
{
    if (ngx_mam_events_redis) {
        ngx_mam_redis_destroy(ngx_mam_events_redis);
        ngx_mam_events_redis = NULL;
    }
}


/* --- the request ----------------------------------------------------------- */

static void
ngx_mam_events_start(ngx_http_request_t *r, PGresult *res, void *data)
{
    size_t                len;
    u_char               *frame;
    json_t               *v;
    ngx_int_t             rc;
    ngx_str_t             v_nocache = ngx_string("no-cache");
    ngx_str_t             v_nobuf = ngx_string("no");
    ngx_mam_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_mam_sub_t        *sub = data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    if (!ngx_mam_outcome(v, "ok")) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such asset");
        return;
    }

    frame = ngx_mam_events_frame(r->pool, json_object_get(v, "status"), &len);
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (frame == NULL || cln == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = -1;

    if (ngx_mam_add_header(r, "Cache-Control", &v_nocache) != NGX_OK
        || ngx_mam_add_header(r, "X-Accel-Buffering", &v_nobuf) != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    sub->r = r;
    ngx_queue_insert_tail(&ngx_mam_events_subs, &sub->queue);
    ngx_mam_events_nsubs++;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mam: events client of %s joined, %ui in this worker",
                  sub->asset_id, ngx_mam_events_nsubs);

    cln->handler = ngx_mam_events_cleanup;
    cln->data = sub;

    /* the gate is done with ctx->data: the writer finds the client there */
    ctx = ngx_http_get_module_ctx(r, ngx_mam_module);
    ctx->data = sub;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_mam_events_writer;

    /* closed by nginx on a graceful shutdown, like a keepalive connection */
    r->connection->idle = 1;

    ngx_mam_events_send(sub, frame, len);
}


ngx_int_t
ngx_mam_events_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_str_t       asset;
    const char    **values;
    ngx_mam_sub_t  *sub;

    (void) ctx;

    if (ngx_http_arg(r, (u_char *) "asset_id", 8, &asset) != NGX_OK
        || !mam_uuid_valid((char *) asset.data, asset.len))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "asset_id: must be a UUID");
    }

    sub = ngx_pcalloc(r->pool, sizeof(ngx_mam_sub_t));
    values = ngx_pcalloc(r->pool, 2 * sizeof(char *));
    if (sub == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_memcpy(sub->asset_id, asset.data, MAM_UUID_LEN);
    values[1] = sub->asset_id;

    if (ngx_mam_pg_query(r, "SELECT mam_preview_status($1, $2)", 2, values,
                         ngx_mam_events_start, sub)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* for the metrics */
ngx_uint_t
ngx_mam_events_clients(void)
{
    return ngx_mam_events_nsubs;
}
