/*
 * GET /api/preview/events?asset_id=: Server-Sent Events of an asset's
 * preview status ("event: status", the first one at once) and of its
 * comments ("event: comment": {asset_id, id, version_id, parent_id, action}
 * with action created, updated, resolved, reopened or deleted; the comment
 * itself is read through the API) and of its versions' approvals ("event:
 * approval": {asset_id, version_id, status}; issue 21), and of the
 * user's own notifications ("event: notification", the notification
 * object of GET /api/notifications; issue 21), which every stream of the
 * recipient carries, whatever its asset.
 * Without asset_id the stream carries these events of every asset (the
 * SPA's grid), beginning with a ": connected" comment.  Every event names
 * its asset_id.  Events are scoped by what the subscriber may see: the
 * assets of the projects they are a member of (an admin: every asset).
 * The stream reads those projects once, when it opens; a membership
 * change raises the user's authz_version, which ends their streams as a
 * role change does, and the client reopens with the new set.
 *
 * The channel's messages are {asset_id, project_id, <kind>: {...}}, kind
 * being one of ngx_mam_events_kinds; a message may carry several.  One
 * without project_id reaches admins only.
 *
 * Each worker holds one Redis connection SUBSCRIBEd to
 * mam:previews (and mam:authz, and mam:notify: the per-user channel,
 * whose messages name each notification's recipient) and fans every
 * message out to its own waiting clients, so
 * a change made through any worker (or host) reaches every subscriber.
 * Clients are kept in a per-worker queue; one timer pings them all.
 *
 * A client that goes away is noticed by ngx_http_test_reading and its
 * request pool cleanup takes it off the queue at once.  On a graceful
 * shutdown (reload) the connections are marked idle, so nginx closes them
 * and EventSource reconnects to a new worker.
 *
 * EventSource cannot send headers, so the SPA first takes a ticket (POST
 * /api/preview/events/ticket): 256 random bits, kept in Redis only as the
 * key mam:evt:{sha256(ticket)} for 30 s, holding the user, authz_version,
 * roles and the expiry of the token it was taken with.  The gate consumes
 * it with GETDEL (single use) and then checks it like a token.
 *
 * A stream ends (the last chunk, then the connection is closed) when the
 * token it was opened with would have expired (a timer per client), and at
 * once when its user's authz_version or status changes: the script that
 * writes mam:authz:{id} publishes the new value on mam:authz, which this
 * worker's subscriber connection receives along with mam:previews.
 *
 * Each user holds at most mam_events_per_user streams, counted in Redis so
 * every worker and host shares the count: a sorted set mam:evs:{user} of
 * "host:pid:connection" members scored by a lease that the ping timer
 * renews; a stream that closes removes its member, and the members of a
 * worker that died lapse with their lease.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_preview.h"


#define NGX_MAM_EVENTS_BUF       2048
#define NGX_MAM_EVENTS_MAX_BUSY  64       /* buffers waiting on a slow client */

#define NGX_MAM_TICKET_TTL       30       /* seconds */
#define NGX_MAM_TICKET_TTL_STR   "30"
#define NGX_MAM_TICKET_LEN       43       /* base64url of 32 random bytes */
#define NGX_MAM_EVENTS_RETRY     "10"     /* Retry-After beyond the cap */


/* KEYS[1] = mam:evs:{user}; ARGV: now, lease end, member, cap, lease */
static const char  ngx_mam_events_slot_script[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) "
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end "
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[5]) "
    "return 1";

/* the lease of an open stream renewed: KEYS[1]; ARGV: lease end, member,
 * lease */
static const char  ngx_mam_events_renew_script[] =
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
    "return 1";


typedef struct {
    ngx_queue_t                queue;
    ngx_http_request_t        *r;
    char                       asset_id[MAM_UUID_LEN + 1];
    ngx_chain_t               *free;
    ngx_chain_t               *busy;
    ngx_uint_t                 nbusy;
    char                       user[MAM_UUID_LEN + 1];
    long                       av;
    /* the projects whose events the stream carries, read when it opened
     * (a membership change ends the stream: mam_member_changed());
     * every project for an admin */
    char                     (*projects)[MAM_UUID_LEN + 1];
    ngx_uint_t                 nprojects;
    unsigned                   admin:1;
    time_t                     expire_at;
    ngx_event_t                expire;     /* the token's expiry */
    char                      *slot_key;   /* mam:evs:{user}, or NULL */
    char                      *slot;       /* our member of it */
    unsigned                   closed:1;
} ngx_mam_sub_t;


static ngx_queue_t       ngx_mam_events_subs;
static ngx_uint_t        ngx_mam_events_nsubs;
static ngx_event_t       ngx_mam_events_ping_ev;
static ngx_mam_redis_t  *ngx_mam_events_redis;


static void
ngx_mam_events_close(ngx_mam_sub_t *sub, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r = sub->r;

    if (sub->closed) {
        return;
    }

    sub->closed = 1;
    c = r->connection;
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the server ends the stream: the last chunk, then the connection closes
 * (EventSource reconnects, through a new ticket) */
static void
ngx_mam_events_end(ngx_mam_sub_t *sub, const char *why)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r = sub->r;

    if (sub->closed) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mam: events client of %s ended: %s",
                  sub->asset_id[0] ? sub->asset_id : "every asset", why);

    r->keepalive = 0;
    rc = ngx_http_send_special(r, NGX_HTTP_LAST);

    ngx_mam_events_close(sub, rc == NGX_ERROR ? NGX_ERROR : NGX_OK);
}


static void
ngx_mam_events_expire(ngx_event_t *ev)
{
    ngx_mam_events_end(ev->data, "its access token expired");
}


static void
ngx_mam_events_ignore(redisReply *reply, void *data)
{
    (void) reply;
    (void) data;
}


/* the stream's place in its user's count is given back */
static void
ngx_mam_events_slot_release(void *data)
{
    ngx_mam_sub_t        *sub = data;
    const char           *argv[3];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    argv[0] = "ZREM";
    argv[1] = sub->slot_key;
    argv[2] = sub->slot;

    (void) ngx_mam_redis_task_command(mcf->redis, ngx_mam_events_ignore, NULL,
                                      3, argv, NULL);
}


/* a stream's lease in seconds: three pings, at least 30 s */
static time_t
ngx_mam_events_lease(ngx_mam_main_conf_t *mcf)
{
    return ngx_max((time_t) (3 * mcf->events_ping / 1000), 30);
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

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
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

    if (sub->expire.timer_set) {
        ngx_del_timer(&sub->expire);
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "mam: events client of %s left, %ui in this worker",
                  sub->asset_id[0] ? sub->asset_id : "every asset",
                  ngx_mam_events_nsubs);
}


/* what a message of the channel may carry: the SSE event of each */
static const char  *ngx_mam_events_kinds[] = {
    "status", "comment", "approval", NULL
};


/* "event: {kind}\ndata: {json}\n\n" for an object of that kind, which
 * is given the asset's id */
static u_char *
ngx_mam_events_frame(ngx_pool_t *pool, const char *kind, json_t *obj,
    const char *asset, size_t *len)
{
    char    *text;
    size_t   n;
    u_char  *frame;

    if (json_object_set_new(obj, "asset_id", json_string(asset)) != 0) {
        return NULL;
    }

    text = json_dumps(obj, NGX_MAM_JSON_FLAGS);
    if (text == NULL) {
        return NULL;
    }

    n = ngx_strlen(text);
    frame = ngx_pnalloc(pool, sizeof("event: \ndata: \n\n") + ngx_strlen(kind)
                              + n);
    if (frame != NULL) {
        *len = ngx_sprintf(frame, "event: %s\ndata: %s\n\n", kind, text)
               - frame;
    }

    free(text);

    return frame;
}


/* --- the per-worker subscription ----------------------------------------- */

/* the gate's memo of users' authz (ngx_mam_auth.c) answers only while this
 * subscription hears every change: on when Redis confirms mam:authz, off
 * (and empty) when the connection is lost */
static void
ngx_mam_events_memo_listen(ngx_uint_t on)
{
    mam_authz_memo_t  *m;

    m = ngx_mam_main_conf()->authz_memo;
    if (m == NULL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "mam: authz memo %s", on ? "on" : "off");

    mam_authz_memo_listen(m, (int) on);
}




/* "mam:authz:{id} av:status" from the authz cache script: the streams of
 * that user opened with an older authz_version, or all of them when the
 * user is no longer active, end now */
static void
ngx_mam_events_authz(redisReply *msg)
{
    long            av;
    u_char         *p, *last, *colon;
    ngx_queue_t    *q, *next;
    ngx_mam_sub_t  *sub;
    ngx_uint_t      active;

    p = (u_char *) msg->str;
    last = p + msg->len;

    if (msg->len < sizeof(MAM_AUTHZ_KEY) - 1 + MAM_UUID_LEN + 3
        || p[sizeof(MAM_AUTHZ_KEY) - 1 + MAM_UUID_LEN] != ' ')
    {
        /* a change of someone: the memo cannot tell whose */
        if (ngx_mam_main_conf()->authz_memo) {
            mam_authz_memo_changed(ngx_mam_main_conf()->authz_memo, NULL);
        }
        return;
    }

    p += sizeof(MAM_AUTHZ_KEY) - 1;

    if (ngx_mam_main_conf()->authz_memo) {
        mam_authz_memo_changed(ngx_mam_main_conf()->authz_memo, (char *) p);
    }

    colon = ngx_strlchr(p + MAM_UUID_LEN + 1, last, ':');
    if (colon == NULL) {
        return;
    }

    av = ngx_atoi(p + MAM_UUID_LEN + 1, colon - (p + MAM_UUID_LEN + 1));
    if (av == NGX_ERROR) {
        return;
    }

    active = (last - colon - 1 == 6 && ngx_strncmp(colon + 1, "active", 6) == 0);

    for (q = ngx_queue_head(&ngx_mam_events_subs);
         q != ngx_queue_sentinel(&ngx_mam_events_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_mam_sub_t, queue);

        if (ngx_strncmp(sub->user, p, MAM_UUID_LEN) != 0) {
            continue;
        }

        if (!active || av > sub->av) {
            ngx_mam_events_end(sub, active ? "its user's roles changed"
                                           : "its user is not active");
        }
    }
}


/* whether the subscriber may see an event of the project: an event that
 * names none is for admins only */
static ngx_uint_t
ngx_mam_events_may_see(ngx_mam_sub_t *sub, const char *project)
{
    ngx_uint_t  i;

    if (sub->admin) {
        return 1;
    }

    if (project == NULL) {
        return 0;
    }

    for (i = 0; i < sub->nprojects; i++) {
        if (ngx_strcmp(sub->projects[i], project) == 0) {
            return 1;
        }
    }

    return 0;
}


/* {project_id, to: [{user_id, notification}]} from mam:notify: each
 * notification, as "event: notification", to its recipient's streams
 * (of any asset or of every asset) that may see the project; nobody
 * else's */
static void
ngx_mam_events_notify(redisReply *msg)
{
    size_t          i, len;
    u_char         *frame;
    json_t         *event, *to, *one, *n;
    ngx_pool_t     *pool;
    const char     *project, *user, *asset;
    ngx_queue_t    *q, *next;
    ngx_mam_sub_t  *sub;

    event = json_loadb(msg->str, msg->len, 0, NULL);
    project = json_string_value(json_object_get(event, "project_id"));
    to = json_object_get(event, "to");

    pool = (project != NULL && json_is_array(to))
           ? ngx_create_pool(1024, ngx_cycle->log) : NULL;
    if (pool == NULL) {
        json_decref(event);
        return;
    }

    json_array_foreach(to, i, one) {
        user = json_string_value(json_object_get(one, "user_id"));
        n = json_object_get(one, "notification");
        asset = json_string_value(json_object_get(n, "asset_id"));

        if (user == NULL || !mam_uuid_valid(user, ngx_strlen(user))
            || asset == NULL || !json_is_object(n))
        {
            continue;
        }

        frame = ngx_mam_events_frame(pool, "notification", n, asset, &len);
        if (frame == NULL) {
            continue;
        }

        for (q = ngx_queue_head(&ngx_mam_events_subs);
             q != ngx_queue_sentinel(&ngx_mam_events_subs);
             q = next)
        {
            next = ngx_queue_next(q);
            sub = ngx_queue_data(q, ngx_mam_sub_t, queue);

            if (ngx_strncmp(sub->user, user, MAM_UUID_LEN) == 0
                && ngx_mam_events_may_see(sub, project))
            {
                ngx_mam_events_send(sub, frame, len);
            }
        }
    }

    ngx_destroy_pool(pool);
    json_decref(event);
}


static void
ngx_mam_events_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    size_t          len;
    u_char         *frame;
    json_t         *event, *obj;
    ngx_pool_t     *pool;
    redisReply     *rr = reply;
    const char     *asset, *project, **k;
    ngx_queue_t    *q, *next;
    ngx_mam_sub_t  *sub;

    (void) ac;
    (void) privdata;

    if (rr == NULL) {
        /* the subscription is lost (hiredis calls every channel's callback
         * with no reply when the connection goes): changes are no longer
         * heard */
        ngx_mam_events_memo_listen(0);
        return;
    }

    if (rr->type != REDIS_REPLY_ARRAY || rr->elements != 3
        || rr->element[0]->type != REDIS_REPLY_STRING
        || rr->element[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(rr->element[0]->str, "subscribe") == 0) {
        if (ngx_strcmp(rr->element[1]->str, MAM_CHANNEL_AUTHZ) == 0) {
            ngx_mam_events_memo_listen(1);
        }
        return;
    }

    if (ngx_strcmp(rr->element[0]->str, "message") != 0
        || rr->element[2]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(rr->element[1]->str, MAM_CHANNEL_AUTHZ) == 0) {
        ngx_mam_events_authz(rr->element[2]);
        return;
    }

    if (ngx_strcmp(rr->element[1]->str, MAM_CHANNEL_NOTIFY) == 0) {
        ngx_mam_events_notify(rr->element[2]);
        return;
    }

    event = json_loadb(rr->element[2]->str, rr->element[2]->len, 0, NULL);
    asset = json_string_value(json_object_get(event, "asset_id"));
    project = json_string_value(json_object_get(event, "project_id"));

    if (asset == NULL || !mam_uuid_valid(asset, ngx_strlen(asset))) {
        json_decref(event);
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        json_decref(event);
        return;
    }

    for (k = ngx_mam_events_kinds; *k; k++) {
        obj = json_object_get(event, *k);
        if (!json_is_object(obj)) {
            continue;
        }

        frame = ngx_mam_events_frame(pool, *k, obj, asset, &len);
        if (frame == NULL) {
            continue;
        }

        for (q = ngx_queue_head(&ngx_mam_events_subs);
             q != ngx_queue_sentinel(&ngx_mam_events_subs);
             q = next)
        {
            next = ngx_queue_next(q);
            sub = ngx_queue_data(q, ngx_mam_sub_t, queue);

            /* a stream of one asset, or of every asset, of the
             * subscriber's projects */
            if ((sub->asset_id[0] == '\0'
                 || ngx_strcmp(sub->asset_id, asset) == 0)
                && ngx_mam_events_may_see(sub, project))
            {
                ngx_mam_events_send(sub, frame, len);
            }
        }
    }

    ngx_destroy_pool(pool);
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
                          "SUBSCRIBE " MAM_CHANNEL_PREVIEWS " "
                          MAM_CHANNEL_AUTHZ " " MAM_CHANNEL_NOTIFY)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "mam: cannot subscribe to " MAM_CHANNEL_PREVIEWS
                      ", " MAM_CHANNEL_AUTHZ " and " MAM_CHANNEL_NOTIFY);
    }
}


static void
ngx_mam_events_ping(ngx_event_t *ev)
{
    ngx_queue_t          *q, *next;
    ngx_mam_sub_t        *sub;
    ngx_mam_main_conf_t  *mcf;

    u_char                lease[NGX_TIME_T_LEN + 1];
    u_char                ttl[NGX_TIME_T_LEN + 1];
    const char           *argv[7];

    static u_char  ping[] = ": ping\n\n";

    mcf = ngx_mam_main_conf();

    *ngx_sprintf(lease, "%T", ngx_time() + ngx_mam_events_lease(mcf)) = '\0';
    *ngx_sprintf(ttl, "%T", ngx_mam_events_lease(mcf)) = '\0';

    for (q = ngx_queue_head(&ngx_mam_events_subs);
         q != ngx_queue_sentinel(&ngx_mam_events_subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_mam_sub_t, queue);

        /* the stream's lease in its user's count, renewed (and the
         * member put back if Redis lost it meanwhile) */
        if (sub->slot_key) {
            argv[0] = "EVAL";
            argv[1] = ngx_mam_events_renew_script;
            argv[2] = "1";
            argv[3] = sub->slot_key;
            argv[4] = (char *) lease;
            argv[5] = sub->slot;
            argv[6] = (char *) ttl;
            (void) ngx_mam_redis_task_command(mcf->redis,
                                              ngx_mam_events_ignore, NULL,
                                              7, argv, NULL);
        }

        ngx_mam_events_send(sub, ping, sizeof(ping) - 1);
    }

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

/* what mam_preview_status() refuses with */
static const ngx_mam_outcome_t  ngx_mam_events_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* the stream's headers, then its first frame; the client joins the
 * worker's queue */
static void
ngx_mam_events_open(ngx_http_request_t *r, ngx_mam_sub_t *sub, u_char *frame,
    size_t len)
{
    ngx_int_t             rc;
    ngx_str_t             v_nocache = ngx_string("no-cache");
    ngx_str_t             v_nobuf = ngx_string("no");
    ngx_mam_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;

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
                  sub->asset_id[0] ? sub->asset_id : "every asset",
                  ngx_mam_events_nsubs);

    cln->handler = ngx_mam_events_cleanup;
    cln->data = sub;

    /* the stream lasts as long as the token it was opened with */
    sub->expire.handler = ngx_mam_events_expire;
    sub->expire.data = sub;
    sub->expire.log = r->connection->log;
    sub->expire.cancelable = 1;
    ngx_add_timer(&sub->expire,
                  (ngx_msec_t) ngx_max(sub->expire_at - ngx_time(), 0) * 1000);

    /* the gate is done with ctx->data: the writer finds the client there */
    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    ctx->data = sub;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_mam_events_writer;

    /* closed by nginx on a graceful shutdown, like a keepalive connection */
    r->connection->idle = 1;

    ngx_mam_events_send(sub, frame, len);
}


/* the projects of a non-admin's stream, from mam_preview_status() */
static ngx_int_t
ngx_mam_events_projects(ngx_http_request_t *r, ngx_mam_sub_t *sub, json_t *v)
{
    size_t       i;
    json_t      *list;
    const char  *id;

    if (sub->admin) {
        return NGX_OK;
    }

    list = json_object_get(v, "projects");
    if (!json_is_array(list)) {
        return NGX_ERROR;
    }

    sub->projects = ngx_pcalloc(r->pool,
                                (json_array_size(list) + 1)
                                * sizeof(*sub->projects));
    if (sub->projects == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < json_array_size(list); i++) {
        id = json_string_value(json_array_get(list, i));
        if (id == NULL || !mam_uuid_valid(id, ngx_strlen(id))) {
            return NGX_ERROR;
        }
        ngx_memcpy(sub->projects[sub->nprojects++], id, MAM_UUID_LEN);
    }

    return NGX_OK;
}


/* a stream of one asset begins with its current status, a stream of every
 * asset with a comment; both know their projects */
static void
ngx_mam_events_start(ngx_http_request_t *r, PGresult *res, void *data)
{
    size_t          len;
    json_t         *v;
    u_char         *frame;
    ngx_mam_sub_t  *sub = data;

    static u_char  connected[] = ": connected\n\n";

    v = ngx_mam_outcome_ok(r, res, ngx_mam_events_outcomes);
    if (v == NULL) {
        return;
    }

    if (ngx_mam_events_projects(r, sub, v) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    if (sub->asset_id[0] == '\0') {
        ngx_mam_events_open(r, sub, connected, sizeof(connected) - 1);
        return;
    }

    len = 0;
    frame = NULL;
    if (json_is_object(json_object_get(v, "status"))) {
        frame = ngx_mam_events_frame(r->pool, "status",
                                     json_object_get(v, "status"),
                                     sub->asset_id, &len);
    }

    ngx_mam_events_open(r, sub, frame, len);
}


static void
ngx_mam_events_query(ngx_http_request_t *r, ngx_mam_sub_t *sub)
{
    const char  **values;

    values = ngx_pcalloc(r->pool, 4 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    /* the asset's status (not_found for one the user may not see) and the
     * user's projects; for every asset's stream, the projects alone */
    values[1] = sub->asset_id[0] ? sub->asset_id : NULL;
    values[2] = sub->user;
    values[3] = sub->admin ? "true" : "false";

    if (ngx_mam_pg_query(r, "SELECT mam_preview_status($1, $2, $3, $4)", 4,
                         values,
                         ngx_mam_events_start, sub)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_events_slot_done(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_str_t             retry = ngx_string(NGX_MAM_EVENTS_RETRY);
    ngx_mam_sub_t        *sub = data;
    ngx_pool_cleanup_t   *cln;
    ngx_mam_main_conf_t  *mcf;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        /* as the request limits: Redis down, the cap fails open */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mam: redis unavailable, event streams not counted");
        sub->slot_key = NULL;
        ngx_mam_events_query(r, sub);
        return;
    }

    if (reply->integer == 0) {
        mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
        (void) ngx_mam_add_header(r, "Retry-After", &retry);
        ngx_mam_fail(r, NGX_HTTP_TOO_MANY_REQUESTS,
                     ngx_mam_message(r->pool, "at most %ui open event "
                                     "streams per user",
                                     mcf->events_per_user));
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_mam_events_slot_release(sub);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    cln->handler = ngx_mam_events_slot_release;
    cln->data = sub;

    ngx_mam_events_query(r, sub);
}


/* a place among the user's streams: mam:evs:{user} */
static ngx_int_t
ngx_mam_events_slot(ngx_http_request_t *r, ngx_mam_sub_t *sub)
{
    time_t                lease;
    const char           *argv[10];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    lease = ngx_mam_events_lease(mcf);

    sub->slot_key = (char *) ngx_mam_message(r->pool, "mam:evs:%s",
                                             sub->user);
    sub->slot = (char *) ngx_mam_message(r->pool, "%V:%P:%uA",
                                         &ngx_cycle->hostname, ngx_pid,
                                         r->connection->number);

    argv[0] = "EVAL";
    argv[1] = ngx_mam_events_slot_script;
    argv[2] = "1";
    argv[3] = sub->slot_key;
    argv[4] = ngx_mam_message(r->pool, "%T", ngx_time());
    argv[5] = ngx_mam_message(r->pool, "%T", ngx_time() + lease);
    argv[6] = sub->slot;
    argv[7] = ngx_mam_message(r->pool, "%ui", mcf->events_per_user);
    argv[8] = ngx_mam_message(r->pool, "%T", lease);

    if (sub->slot_key == NULL || sub->slot == NULL || argv[4] == NULL
        || argv[5] == NULL || argv[7] == NULL || argv[8] == NULL)
    {
        return NGX_ERROR;
    }

    return ngx_mam_redis_command(r, mcf->redis, ngx_mam_events_slot_done, sub,
                                 9, argv, NULL);
}


ngx_int_t
ngx_mam_events_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_str_t       asset;
    ngx_mam_sub_t  *sub;

    /* no asset_id: every asset's events */
    if (ngx_http_arg(r, (u_char *) "asset_id", 8, &asset) != NGX_OK) {
        asset.len = 0;
    }

    if (asset.len && !mam_uuid_valid((char *) asset.data, asset.len)) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "asset_id: must be a UUID");
    }

    sub = ngx_pcalloc(r->pool, sizeof(ngx_mam_sub_t));
    if (sub == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* without asset_id: a stream of every asset the user may see */
    if (asset.len) {
        ngx_memcpy(sub->asset_id, asset.data, asset.len);
    }

    ngx_memcpy(sub->user, ctx->user.sub, MAM_UUID_LEN);
    sub->av = ctx->user.av;
    sub->expire_at = ctx->user.exp;
    sub->admin = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? 1 : 0;

    if (ngx_mam_events_slot(r, sub) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* POST /api/preview/events/ticket: {ticket, expires_in} */

typedef struct {
    char                       ticket[NGX_MAM_TICKET_LEN + 1];
} ngx_mam_ticket_t;


static void
ngx_mam_events_ticket_done(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t            *v;
    ngx_int_t          rc;
    ngx_mam_ticket_t  *t = data;

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
        return;
    }

    v = json_pack("{s:s, s:i}", "ticket", t->ticket,
                  "expires_in", NGX_MAM_TICKET_TTL);
    if (v == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    rc = ngx_mam_send_json(r, NGX_HTTP_OK, v);
    json_decref(v);

    ngx_http_finalize_request(r, rc);
}


ngx_int_t
ngx_mam_events_ticket_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    char                  digest[65];
    const char           *argv[6];
    ngx_mam_ticket_t     *t;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    t = ngx_pcalloc(r->pool, sizeof(ngx_mam_ticket_t));
    if (t == NULL || mam_random_token(t->ticket) != 0) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    /* only the ticket's hash is a key: a Redis dump holds no ticket */
    mam_sha256_hex(t->ticket, NGX_MAM_TICKET_LEN, digest);

    argv[0] = "SET";
    argv[1] = ngx_mam_message(r->pool, "mam:evt:%s", digest);
    argv[2] = ngx_mam_message(r->pool, "%s %l %l %ui", ctx->user.sub,
                              ctx->user.av, ctx->user.exp,
                              (ngx_uint_t) ctx->user.roles);
    argv[3] = "EX";
    argv[4] = NGX_MAM_TICKET_TTL_STR;
    argv[5] = "NX";

    if (argv[1] == NULL || argv[2] == NULL
        || ngx_mam_redis_command(r, mcf->redis, ngx_mam_events_ticket_done,
                                 t, 6, argv, NULL)
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
