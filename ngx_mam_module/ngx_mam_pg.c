/*
 * Per-worker PostgreSQL pool: libpq's asynchronous API on sockets registered
 * as nginx connections (level-triggered, because PQconsumeInput does not
 * promise to drain the socket), a bounded FIFO of waiting queries with a
 * timeout, and reconnection with exponential backoff.
 *
 * A connection is DOWN (waiting to retry), CONNECTING, IDLE or BUSY with
 * at most one query in flight.  Results are always drained to the final
 * NULL from PQgetResult before a connection is reused.
 *
 * Every query of a request holds a timer, waiting or in flight: it bounds
 * the wait, and nginx lets a worker that shuts down (reload) exit only
 * when no such timer is left, so no request is dropped half-way.  A query
 * in flight past its time drops its connection: libpq can cancel only by
 * blocking, and one hung query must not hold a pool slot for ever.
 *
 * Every statement is a named prepared statement: the worker names each SQL
 * text it is given ("mam_N", by text, so the same text is one statement
 * wherever it comes from), and a connection prepares a statement the first
 * time it runs it (one more round trip, once), then executes it by name:
 * PostgreSQL parses it once per connection and can keep its plan.  A new
 * connection starts with none prepared.
 *
 * mam_pg_prepare off is for a pooler that hands each transaction to any
 * server connection and cannot carry named statements across (PgBouncer
 * before 1.21 in transaction mode, Debian 12's 1.18): every statement then
 * goes unnamed, its Parse, Bind and Execute in one message that one
 * transaction serves, and the session options (a plan cache setting that
 * only named statements use) are not sent.
 */

#include "ngx_mam_pg.h"


#define NGX_MAM_PG_BACKOFF_MIN   100
#define NGX_MAM_PG_BACKOFF_MAX   2000

/* statements one worker may name; the module has about 60 */
#define NGX_MAM_PG_STATEMENTS    512
#define NGX_MAM_PG_NAME_LEN      sizeof("mam_512")


typedef enum {
    NGX_MAM_PG_DOWN = 0,
    NGX_MAM_PG_CONNECTING,
    NGX_MAM_PG_IDLE,
    NGX_MAM_PG_BUSY
} ngx_mam_pg_state_e;


typedef struct ngx_mam_pg_query_s  ngx_mam_pg_query_t;


typedef struct {
    ngx_mam_pg_pool_t        *pool;
    PGconn                   *pg;
    ngx_connection_t         *c;
    ino_t                     sock_ino;  /* which socket c->fd was */
    ngx_mam_pg_state_e        state;
    ngx_mam_pg_query_t       *query;    /* NULL while BUSY: result discarded */
    PGresult                 *result;
    ngx_event_t               retry;    /* DOWN: reconnect; BUSY: the
                                           abandoned query's timeout */
    ngx_msec_t                backoff;
    unsigned                  preparing:1;  /* BUSY with a PQsendPrepare */
    ngx_uint_t                preparing_statement;
    uint8_t                   prepared[NGX_MAM_PG_STATEMENTS / 8];
} ngx_mam_pg_conn_t;


struct ngx_mam_pg_pool_s {
    ngx_mam_pg_conn_t        *conns;
    ngx_uint_t                nconns;
    ngx_queue_t               waiting;
    ngx_uint_t                nwaiting;
    ngx_uint_t                max_waiting;
    ngx_uint_t                waits;
    ngx_uint_t                wait_msec;
    ngx_msec_t                wait_timeout;
    ngx_msec_t                query_timeout;
    char                     *conninfo;
    char                     *options;  /* the session settings (below) */
    unsigned                  prepare:1;  /* mam_pg_prepare */
    ngx_log_t                *log;
};


struct ngx_mam_pg_query_s {
    ngx_queue_t               queue;
    ngx_mam_pg_pool_t        *pool;
    ngx_http_request_t       *r;
    ngx_http_cleanup_t       *cln;
    ngx_mam_pg_conn_t        *conn;
    const char               *sql;
    const char *const        *values;
    int                       nparams;
    ngx_int_t                 statement;  /* index, or -1: sent unnamed */
    ngx_mam_pg_handler_pt     handler;
    ngx_mam_pg_task_pt        task;     /* a query of no request */
    void                     *data;
    ngx_event_t               ev;       /* wait timeout, deferred failure */
    ngx_msec_t                queued_at;
    unsigned                  queued:1;
};


static void ngx_mam_pg_connect(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_connect_poll(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_reopen(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_fail(ngx_mam_pg_conn_t *conn, const char *what);
static void ngx_mam_pg_dispatch(ngx_mam_pg_pool_t *pool);
static void ngx_mam_pg_send(ngx_mam_pg_conn_t *conn, ngx_mam_pg_query_t *q);
static ngx_int_t ngx_mam_pg_send_statement(ngx_mam_pg_conn_t *conn,
    ngx_mam_pg_query_t *q);
static ngx_int_t ngx_mam_pg_prepared(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_flush(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_receive(ngx_mam_pg_conn_t *conn);
static void ngx_mam_pg_complete(ngx_mam_pg_query_t *q, PGresult *res);
static void ngx_mam_pg_fail_waiting(ngx_mam_pg_pool_t *pool);
static void ngx_mam_pg_defer_failure(ngx_mam_pg_query_t *q);
static void ngx_mam_pg_submit(ngx_mam_pg_pool_t *pool, ngx_mam_pg_query_t *q);


typedef struct {
    char                     *sql;      /* the worker's own copy */
    size_t                    len;
    ngx_uint_t                hash;
} ngx_mam_pg_statement_t;


static ngx_mam_pg_statement_t  ngx_mam_pg_statements[NGX_MAM_PG_STATEMENTS];
static ngx_uint_t              ngx_mam_pg_nstatements;


/* the index naming sql in this worker, or -1 when the table is full (the
 * statement is then sent unnamed, as it was before it had a name) */
static ngx_int_t
ngx_mam_pg_statement(ngx_log_t *log, const char *sql)
{
    size_t                   len;
    ngx_uint_t               i, hash;
    ngx_mam_pg_statement_t  *st;

    len = ngx_strlen(sql);
    hash = ngx_hash_key((u_char *) sql, len);

    for (i = 0; i < ngx_mam_pg_nstatements; i++) {
        st = &ngx_mam_pg_statements[i];

        if (st->hash == hash && st->len == len
            && ngx_memcmp(st->sql, sql, len) == 0)
        {
            return i;
        }
    }

    if (ngx_mam_pg_nstatements == NGX_MAM_PG_STATEMENTS) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mam: more than %d statements, sent unnamed: \"%s\"",
                      NGX_MAM_PG_STATEMENTS, sql);
        return -1;
    }

    st = &ngx_mam_pg_statements[ngx_mam_pg_nstatements];
    st->sql = ngx_alloc(len + 1, log);
    if (st->sql == NULL) {
        return -1;
    }

    ngx_memcpy(st->sql, sql, len + 1);
    st->len = len;
    st->hash = hash;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "mam: statement mam_%ui is \"%s\"",
                   ngx_mam_pg_nstatements, sql);

    return ngx_mam_pg_nstatements++;
}


json_t *
ngx_mam_pg_json(ngx_pool_t *pool, PGresult *res)
{
    json_t  *v;

    if (!ngx_mam_pg_ok(res) || PQntuples(res) != 1 || PQnfields(res) != 1
        || PQgetisnull(res, 0, 0))
    {
        return NULL;
    }

    v = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL);
    if (v == NULL || ngx_mam_json_cleanup_add(pool, v) != NGX_OK) {
        return NULL;
    }

    return v;
}


void
ngx_mam_pg_fail_request(ngx_http_request_t *r, PGresult *res)
{
    ngx_mam_fail(r, res ? NGX_HTTP_INTERNAL_SERVER_ERROR
                        : NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
}


json_t *
ngx_mam_pg_request_json(ngx_http_request_t *r, PGresult *res)
{
    json_t  *v;

    v = ngx_mam_pg_json(r->pool, res);
    if (v == NULL) {
        ngx_mam_pg_fail_request(r, res);
    }

    return v;
}


ngx_int_t
ngx_mam_pg_ok(PGresult *res)
{
    ExecStatusType  st;

    if (res == NULL) {
        return 0;
    }

    st = PQresultStatus(res);

    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}


static ngx_int_t
ngx_mam_pg_write_event(ngx_mam_pg_conn_t *conn, ngx_uint_t on)
{
    ngx_event_t  *wev;

    wev = conn->c->write;

    if (on && !wev->active) {
        return ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    if (!on && wev->active) {
        return ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }

    return NGX_OK;
}


static void
ngx_mam_pg_read_handler(ngx_event_t *rev)
{
    ngx_connection_t   *c;
    ngx_mam_pg_conn_t  *conn;

    c = rev->data;
    conn = c->data;

    if (conn->state == NGX_MAM_PG_CONNECTING) {
        ngx_mam_pg_connect_poll(conn);
        return;
    }

    ngx_mam_pg_receive(conn);
}


static void
ngx_mam_pg_write_handler(ngx_event_t *wev)
{
    ngx_connection_t   *c;
    ngx_mam_pg_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    if (conn->state == NGX_MAM_PG_CONNECTING) {
        ngx_mam_pg_connect_poll(conn);
        return;
    }

    ngx_mam_pg_flush(conn);
}


/*
 * Whether conn->c still wraps libpq's socket.  The number alone does not
 * tell: when libpq moves to the next host it closes its socket and opens
 * another, which usually gets the same number, and the closed one took
 * its epoll registration with it.
 */
static ngx_uint_t
ngx_mam_pg_socket_same(ngx_mam_pg_conn_t *conn)
{
    struct stat  st;

    return conn->c != NULL && conn->pg != NULL
           && PQsocket(conn->pg) == conn->c->fd
           && fstat(conn->c->fd, &st) == 0
           && st.st_ino == conn->sock_ino;
}


/* libpq owns the socket: give back the nginx connection, never close fd */
static void
ngx_mam_pg_detach_socket(ngx_mam_pg_conn_t *conn)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = conn->c;
    if (c == NULL) {
        return;
    }

    /* a socket libpq already closed left epoll by itself */
    flags = ngx_mam_pg_socket_same(conn) ? 0 : NGX_CLOSE_EVENT;

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }
    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }
    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
    conn->c = NULL;
}


static ngx_int_t
ngx_mam_pg_attach_socket(ngx_mam_pg_conn_t *conn)
{
    int                 fd;
    ngx_log_t          *log;
    struct stat         st;
    ngx_connection_t   *c;

    if (ngx_mam_pg_socket_same(conn)) {
        return NGX_OK;
    }

    ngx_mam_pg_detach_socket(conn);

    fd = PQsocket(conn->pg);
    if (fd == -1 || fstat(fd, &st) == -1) {
        return NGX_ERROR;
    }

    log = conn->pool->log;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = conn;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_mam_pg_read_handler;
    c->write->handler = ngx_mam_pg_write_handler;
    conn->c = c;
    conn->sock_ino = st.st_ino;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_mam_pg_detach_socket(conn);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_mam_pg_retry_handler(ngx_event_t *ev)
{
    ngx_mam_pg_conn_t  *conn = ev->data;

    if (conn->state == NGX_MAM_PG_BUSY) {
        ngx_log_error(NGX_LOG_WARN, conn->pool->log, 0,
                      "mam: abandoned postgres query still running after "
                      "%M ms, closing its connection",
                      conn->pool->query_timeout);
        ngx_mam_pg_reopen(conn);
        return;
    }

    ngx_mam_pg_connect(conn);
}


/*
 * The session settings of the module's connections, added to whatever
 * options mam_pg has: a named statement keeps one generic plan, where
 * PostgreSQL would otherwise plan every call afresh whenever it judges
 * a custom plan cheaper (about half a millisecond for a page of assets,
 * as much as running it).  The statements are static keyset and key
 * lookups, whose generic plans are the ones a custom plan would pick.
 * And no incremental sort: the statements are written to be read in an
 * index's order, and one in a plan is PostgreSQL preferring a narrower
 * index and a sort of the page's rows, as it does for the asset list on
 * an instance of up to some 10,000 assets (the seed's index on created_at
 * alone, then each row copied into a sort: a fifth of the list's rate,
 * docs/benchmarks.md, t/42).
 */
#define NGX_MAM_PG_SESSION_OPTIONS                                            \
    "-c plan_cache_mode=force_generic_plan -c enable_incremental_sort=off"


static char *
ngx_mam_pg_session_options(ngx_pool_t *mem, const char *conninfo,
    const char *add)
{
    char               *err, *out;
    size_t              len;
    const char         *have;
    PQconninfoOption   *opts, *o;

    err = NULL;
    opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        PQfreemem(err);
        return NULL;
    }

    have = "";
    for (o = opts; o->keyword; o++) {
        if (ngx_strcmp(o->keyword, "options") == 0 && o->val) {
            have = o->val;
        }
    }

    len = ngx_strlen(have) + 1 + ngx_strlen(add) + 1;
    out = ngx_pnalloc(mem, len);
    if (out != NULL) {
        ngx_snprintf((u_char *) out, len, "%s%s%s%Z", have,
                     have[0] && add[0] ? " " : "", add);
    }

    PQconninfoFree(opts);

    return out;
}


/* mam_pg's conninfo (expanded as dbname) with the session options */
static PGconn *
ngx_mam_pg_connect_start(ngx_mam_pg_pool_t *pool)
{
    const char  *keywords[3], *values[3];

    keywords[0] = "dbname";
    values[0] = pool->conninfo;
    keywords[1] = "options";
    values[1] = pool->options;
    keywords[2] = NULL;
    values[2] = NULL;

    return PQconnectStartParams(keywords, values, 1);
}


static void
ngx_mam_pg_connect(ngx_mam_pg_conn_t *conn)
{
    /* a new session: no statement is prepared on it yet */
    ngx_memzero(conn->prepared, sizeof(conn->prepared));
    conn->preparing = 0;

    conn->pg = ngx_mam_pg_connect_start(conn->pool);

    if (conn->pg == NULL) {
        ngx_mam_pg_fail(conn, "out of memory");
        return;
    }

    if (PQstatus(conn->pg) == CONNECTION_BAD
        || PQsetnonblocking(conn->pg, 1) != 0)
    {
        ngx_mam_pg_fail(conn, "connect");
        return;
    }

    conn->state = NGX_MAM_PG_CONNECTING;

    /* libpq: behave as if PQconnectPoll had asked to write first */
    if (ngx_mam_pg_attach_socket(conn) != NGX_OK
        || ngx_mam_pg_write_event(conn, 1) != NGX_OK)
    {
        ngx_mam_pg_fail(conn, "connect (event)");
    }
}


static void
ngx_mam_pg_connect_poll(ngx_mam_pg_conn_t *conn)
{
    PostgresPollingStatusType  ps;

    ps = PQconnectPoll(conn->pg);

    if (ps == PGRES_POLLING_FAILED) {
        ngx_mam_pg_fail(conn, "connect");
        return;
    }

    /* the socket may change while libpq walks a host list */
    if (ngx_mam_pg_attach_socket(conn) != NGX_OK
        || ngx_mam_pg_write_event(conn, ps == PGRES_POLLING_WRITING)
           != NGX_OK)
    {
        ngx_mam_pg_fail(conn, "connect (event)");
        return;
    }

    if (ps != PGRES_POLLING_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, conn->pool->log, 0,
                  "mam: postgres connection established");

    conn->state = NGX_MAM_PG_IDLE;
    conn->backoff = 0;

    ngx_mam_pg_dispatch(conn->pool);
}


static ngx_uint_t
ngx_mam_pg_alive(ngx_mam_pg_pool_t *pool)
{
    ngx_uint_t  i;

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state != NGX_MAM_PG_DOWN) {
            return 1;
        }
    }

    return 0;
}


/* close the connection; its query (if any) is the caller's */
static ngx_mam_pg_query_t *
ngx_mam_pg_close(ngx_mam_pg_conn_t *conn)
{
    ngx_mam_pg_query_t  *q;

    q = conn->query;
    conn->query = NULL;

    if (conn->result) {
        PQclear(conn->result);
        conn->result = NULL;
    }

    ngx_mam_pg_detach_socket(conn);

    if (conn->pg) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }

    conn->state = NGX_MAM_PG_DOWN;

    return q;
}


/*
 * A query ran past mam_pg_query_timeout on a server that may well answer
 * the rest: a new connection at once, with no backoff, and nothing else
 * failed meanwhile.
 */
static void
ngx_mam_pg_reopen(ngx_mam_pg_conn_t *conn)
{
    (void) ngx_mam_pg_close(conn);

    if (conn->retry.timer_set) {
        ngx_del_timer(&conn->retry);
    }

    ngx_mam_pg_connect(conn);
}


/* the connection is lost or never came up: fail its query, retry later */
static void
ngx_mam_pg_fail(ngx_mam_pg_conn_t *conn, const char *what)
{
    ngx_mam_pg_query_t  *q;
    ngx_mam_pg_pool_t   *pool;

    pool = conn->pool;

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "mam: postgres %s failed: %s", what,
                  conn->pg ? PQerrorMessage(conn->pg) : "no connection");

    q = ngx_mam_pg_close(conn);

    conn->backoff = conn->backoff ? ngx_min(conn->backoff * 2,
                                            NGX_MAM_PG_BACKOFF_MAX)
                                  : NGX_MAM_PG_BACKOFF_MIN;
    ngx_add_timer(&conn->retry, conn->backoff);

    if (q) {
        ngx_mam_pg_defer_failure(q);
    }

    if (!ngx_mam_pg_alive(pool)) {
        ngx_mam_pg_fail_waiting(pool);
    }
}


static void
ngx_mam_pg_send(ngx_mam_pg_conn_t *conn, ngx_mam_pg_query_t *q)
{
    conn->state = NGX_MAM_PG_BUSY;
    conn->query = q;
    q->conn = conn;

    ngx_add_timer(&q->ev, conn->pool->query_timeout);

    if (ngx_mam_pg_send_statement(conn, q) != NGX_OK) {
        ngx_mam_pg_fail(conn, "send");
        return;
    }

    ngx_mam_pg_flush(conn);
}


/* prepares q's statement on conn if it is not yet, else executes it */
static ngx_int_t
ngx_mam_pg_send_statement(ngx_mam_pg_conn_t *conn, ngx_mam_pg_query_t *q)
{
    int         ok;
    ngx_uint_t  i;
    u_char      name[NGX_MAM_PG_NAME_LEN];

    if (q->statement < 0 || !conn->pool->prepare) {
        ok = PQsendQueryParams(conn->pg, q->sql, q->nparams, NULL, q->values,
                               NULL, NULL, 0);
        return ok ? NGX_OK : NGX_ERROR;
    }

    i = (ngx_uint_t) q->statement;
    *ngx_snprintf(name, sizeof(name) - 1, "mam_%ui", i) = '\0';

    if (!(conn->prepared[i / 8] & (1 << (i % 8)))) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, conn->pool->log, 0,
                       "mam: postgres prepare %s", name);

        conn->preparing = 1;
        conn->preparing_statement = i;
        ok = PQsendPrepare(conn->pg, (char *) name, q->sql, q->nparams, NULL);
        return ok ? NGX_OK : NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, conn->pool->log, 0,
                   "mam: postgres execute %s", name);

    ok = PQsendQueryPrepared(conn->pg, (char *) name, q->nparams, q->values,
                             NULL, NULL, 0);
    return ok ? NGX_OK : NGX_ERROR;
}


/*
 * The prepare's result is in: the statement is marked prepared and the
 * query itself goes out on the same connection.  Returns NGX_OK when the
 * connection stays busy with it; NGX_DECLINED when the result is to be
 * handled as the query's own (the prepare failed, or its query went away).
 */
static ngx_int_t
ngx_mam_pg_prepared(ngx_mam_pg_conn_t *conn)
{
    ngx_uint_t           i;
    ngx_mam_pg_query_t  *q;

    conn->preparing = 0;
    q = conn->query;

    if (!ngx_mam_pg_ok(conn->result)) {
        return NGX_DECLINED;
    }

    i = conn->preparing_statement;
    conn->prepared[i / 8] |= (uint8_t) (1 << (i % 8));

    PQclear(conn->result);
    conn->result = NULL;

    if (q == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_mam_pg_send_statement(conn, q) != NGX_OK) {
        ngx_mam_pg_fail(conn, "send");
        return NGX_OK;
    }

    ngx_mam_pg_flush(conn);
    return NGX_OK;
}


static void
ngx_mam_pg_flush(ngx_mam_pg_conn_t *conn)
{
    int  rc;

    if (conn->state != NGX_MAM_PG_BUSY) {
        (void) ngx_mam_pg_write_event(conn, 0);
        return;
    }

    rc = PQflush(conn->pg);

    if (rc == -1 || ngx_mam_pg_write_event(conn, rc == 1) != NGX_OK) {
        ngx_mam_pg_fail(conn, "send");
    }
}


static void
ngx_mam_pg_receive(ngx_mam_pg_conn_t *conn)
{
    PGresult            *res;
    PGnotify            *notify;
    ngx_mam_pg_query_t  *q;

    if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) != CONNECTION_OK) {
        ngx_mam_pg_fail(conn, "read");
        return;
    }

    while ((notify = PQnotifies(conn->pg)) != NULL) {
        PQfreemem(notify);
    }

    if (conn->state != NGX_MAM_PG_BUSY) {
        return;
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);

        if (res != NULL) {
            /* keep the first error, else the last result */
            if (conn->result == NULL
                || ngx_mam_pg_ok(conn->result))
            {
                if (conn->result) {
                    PQclear(conn->result);
                }
                conn->result = res;

            } else {
                PQclear(res);
            }

            continue;
        }

        if (conn->preparing && ngx_mam_pg_prepared(conn) == NGX_OK) {
            return;
        }

        q = conn->query;
        res = conn->result;
        conn->query = NULL;
        conn->result = NULL;
        conn->state = NGX_MAM_PG_IDLE;

        if (conn->retry.timer_set) {
            ngx_del_timer(&conn->retry);
        }

        if (q) {
            ngx_mam_pg_complete(q, res);
        }

        if (res) {
            PQclear(res);
        }

        ngx_mam_pg_dispatch(conn->pool);
        return;
    }
}


/* hand the result to the request's handler, if the request still waits */
static void
ngx_mam_pg_complete(ngx_mam_pg_query_t *q, PGresult *res)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    q->conn = NULL;

    if (q->ev.timer_set) {
        ngx_del_timer(&q->ev);
    }

    if (q->task) {
        q->task(res, q->data);
        return;
    }

    r = q->r;
    if (r == NULL) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: postgres answered: %s, %d rows",
                   res ? PQresStatus(PQresultStatus(res)) : "no result",
                   res ? PQntuples(res) : 0);

    q->r = NULL;
    q->cln->handler = NULL;

    c = r->connection;

    q->handler(r, res, q->data);

    ngx_http_run_posted_requests(c);
}


static void
ngx_mam_pg_dispatch(ngx_mam_pg_pool_t *pool)
{
    ngx_uint_t           i;
    ngx_queue_t         *head;
    ngx_mam_pg_query_t  *q;

    for (i = 0; i < pool->nconns && !ngx_queue_empty(&pool->waiting); i++) {
        if (pool->conns[i].state != NGX_MAM_PG_IDLE) {
            continue;
        }

        head = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(head, ngx_mam_pg_query_t, queue);

        ngx_queue_remove(head);
        pool->nwaiting--;
        pool->wait_msec += ngx_current_msec - q->queued_at;
        q->queued = 0;

        if (q->ev.timer_set) {
            ngx_del_timer(&q->ev);
        }

        ngx_mam_pg_send(&pool->conns[i], q);
    }
}


static void
ngx_mam_pg_fail_waiting(ngx_mam_pg_pool_t *pool)
{
    ngx_queue_t         *head;
    ngx_mam_pg_query_t  *q;

    while (!ngx_queue_empty(&pool->waiting)) {
        head = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(head, ngx_mam_pg_query_t, queue);

        ngx_queue_remove(head);
        pool->nwaiting--;
        q->queued = 0;

        ngx_mam_pg_defer_failure(q);
    }
}


/*
 * Failures reach handlers through a posted event, so a handler is never
 * re-entered from inside ngx_mam_pg_query() or another request's handler.
 */
static void
ngx_mam_pg_defer_failure(ngx_mam_pg_query_t *q)
{
    q->conn = NULL;

    if (q->ev.timer_set) {
        ngx_del_timer(&q->ev);
    }

    if ((q->r != NULL || q->task != NULL) && !q->ev.posted) {
        ngx_post_event(&q->ev, &ngx_posted_events);
    }
}


/* a query timed out (queued or in flight), or could not run */
static void
ngx_mam_pg_query_event_handler(ngx_event_t *ev)
{
    ngx_mam_pg_conn_t   *conn;
    ngx_mam_pg_query_t  *q;

    q = ev->data;

    if (q->queued) {
        ngx_queue_remove(&q->queue);
        q->pool->nwaiting--;
        q->queued = 0;

        ngx_log_error(NGX_LOG_WARN, q->pool->log, 0,
                      "mam: postgres pool wait timed out");
    }

    conn = q->conn;

    if (conn != NULL) {
        ngx_log_error(NGX_LOG_WARN, q->pool->log, 0,
                      "mam: postgres query timed out after %M ms, "
                      "closing its connection", q->pool->query_timeout);
        conn->query = NULL;
        q->conn = NULL;
        ngx_mam_pg_reopen(conn);
    }

    ngx_mam_pg_complete(q, NULL);
}


/* the request is going away: forget it everywhere */
static void
ngx_mam_pg_query_cleanup(void *data)
{
    ngx_mam_pg_query_t  *q = data;

    q->r = NULL;

    if (q->queued) {
        ngx_queue_remove(&q->queue);
        q->pool->nwaiting--;
        q->queued = 0;
    }

    if (q->ev.timer_set) {
        ngx_del_timer(&q->ev);
    }

    if (q->ev.posted) {
        ngx_delete_posted_event(&q->ev);
    }

    if (q->conn) {
        /* still in flight: drain and discard its result, but not for
         * longer than the request would have waited */
        q->conn->query = NULL;
        ngx_add_timer(&q->conn->retry, q->pool->query_timeout);
        q->conn = NULL;
    }
}


ngx_int_t
ngx_mam_pg_query(ngx_http_request_t *r, const char *sql, int nparams,
    const char *const *values, ngx_mam_pg_handler_pt handler, void *data)
{
    ngx_mam_pg_pool_t   *pool;
    ngx_mam_pg_query_t  *q;
    ngx_mam_main_conf_t *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);
    pool = mcf->pg;

    q = ngx_pcalloc(r->pool, sizeof(ngx_mam_pg_query_t));
    if (q == NULL) {
        return NGX_ERROR;
    }

    q->cln = ngx_http_cleanup_add(r, 0);
    if (q->cln == NULL) {
        return NGX_ERROR;
    }

    q->cln->handler = ngx_mam_pg_query_cleanup;
    q->cln->data = q;

    q->pool = pool;
    q->r = r;
    q->sql = sql;
    q->nparams = nparams;
    q->statement = ngx_mam_pg_statement(ngx_cycle->log, sql);
    q->values = values;
    q->handler = handler;
    q->data = data;

    q->ev.handler = ngx_mam_pg_query_event_handler;
    q->ev.data = q;
    q->ev.log = r->connection->log;

    ngx_mam_pg_submit(pool, q);

    return NGX_OK;
}


/* a query of the module itself (housekeeping): res as for a request */
ngx_int_t
ngx_mam_pg_task_query(ngx_mam_pg_pool_t *pool, ngx_pool_t *mem,
    const char *sql, int nparams, const char *const *values,
    ngx_mam_pg_task_pt handler, void *data)
{
    ngx_mam_pg_query_t  *q;

    q = ngx_pcalloc(mem, sizeof(ngx_mam_pg_query_t));
    if (q == NULL) {
        return NGX_ERROR;
    }

    q->pool = pool;
    q->sql = sql;
    q->nparams = nparams;
    q->statement = ngx_mam_pg_statement(ngx_cycle->log, sql);
    q->values = values;
    q->task = handler;
    q->data = data;

    q->ev.handler = ngx_mam_pg_query_event_handler;
    q->ev.data = q;
    q->ev.log = ngx_cycle->log;
    /* the module's own work does not hold a shutting-down worker */
    q->ev.cancelable = 1;

    ngx_mam_pg_submit(pool, q);

    return NGX_OK;
}


/* to an idle connection, else into the wait queue, else failed */
static void
ngx_mam_pg_submit(ngx_mam_pg_pool_t *pool, ngx_mam_pg_query_t *q)
{
    ngx_uint_t  i;

    if (pool == NULL) {
        ngx_mam_pg_defer_failure(q);
        return;
    }

    q->ev.log = pool->log;

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state == NGX_MAM_PG_IDLE) {
            ngx_mam_pg_send(&pool->conns[i], q);
            return;
        }
    }

    if (!ngx_mam_pg_alive(pool) || pool->nwaiting >= pool->max_waiting) {
        if (pool->nwaiting >= pool->max_waiting) {
            ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                          "mam: postgres pool queue is full (%ui)",
                          pool->max_waiting);
        }

        ngx_mam_pg_defer_failure(q);
        return;
    }

    ngx_queue_insert_tail(&pool->waiting, &q->queue);
    pool->nwaiting++;
    pool->waits++;
    q->queued_at = ngx_current_msec;
    q->queued = 1;
    ngx_add_timer(&q->ev, pool->wait_timeout);
}


ngx_mam_pg_pool_t *
ngx_mam_pg_pool_create(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf)
{
    ngx_uint_t          i;
    ngx_mam_pg_conn_t  *conn;
    ngx_mam_pg_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_mam_pg_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->conns = ngx_pcalloc(cycle->pool,
                              mcf->pg_pool_size * sizeof(ngx_mam_pg_conn_t));
    pool->conninfo = ngx_pnalloc(cycle->pool, mcf->pg_conninfo.len + 1);
    if (pool->conns == NULL || pool->conninfo == NULL) {
        return NULL;
    }

    (void) ngx_cpystrn((u_char *) pool->conninfo, mcf->pg_conninfo.data,
                       mcf->pg_conninfo.len + 1);

    pool->prepare = mcf->pg_prepare ? 1 : 0;
    pool->options = ngx_mam_pg_session_options(cycle->pool, pool->conninfo,
                                               pool->prepare
                                               ? NGX_MAM_PG_SESSION_OPTIONS
                                               : "");
    if (pool->options == NULL) {
        return NULL;
    }

    pool->nconns = mcf->pg_pool_size;
    pool->max_waiting = mcf->pg_queue_size;
    pool->wait_timeout = mcf->pg_queue_timeout;
    pool->query_timeout = mcf->pg_query_timeout;
    pool->log = cycle->log;
    ngx_queue_init(&pool->waiting);

    for (i = 0; i < pool->nconns; i++) {
        conn = &pool->conns[i];
        conn->pool = pool;
        conn->retry.handler = ngx_mam_pg_retry_handler;
        conn->retry.data = conn;
        conn->retry.log = cycle->log;
        conn->retry.cancelable = 1;

        ngx_mam_pg_connect(conn);
    }

    return pool;
}


void
ngx_mam_pg_pool_destroy(ngx_mam_pg_pool_t *pool)
{
    ngx_uint_t          i;
    ngx_mam_pg_conn_t  *conn;

    for (i = 0; i < pool->nconns; i++) {
        conn = &pool->conns[i];

        if (conn->retry.timer_set) {
            ngx_del_timer(&conn->retry);
        }

        if (conn->result) {
            PQclear(conn->result);
            conn->result = NULL;
        }

        ngx_mam_pg_detach_socket(conn);

        if (conn->pg) {
            PQfinish(conn->pg);
            conn->pg = NULL;
        }

        conn->state = NGX_MAM_PG_DOWN;
    }
}


void
ngx_mam_pg_stats(ngx_mam_pg_pool_t *pool, ngx_mam_pg_stats_t *st)
{
    ngx_uint_t  i;

    ngx_memzero(st, sizeof(ngx_mam_pg_stats_t));

    if (pool == NULL) {
        return;
    }

    for (i = 0; i < pool->nconns; i++) {
        switch (pool->conns[i].state) {
        case NGX_MAM_PG_IDLE:
            st->idle++;
            break;
        case NGX_MAM_PG_BUSY:
            st->busy++;
            break;
        default:
            st->down++;
        }
    }

    st->waiting = pool->nwaiting;
    st->waits = pool->waits;
    st->wait_msec = pool->wait_msec;
}
