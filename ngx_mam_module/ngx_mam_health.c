/*
 * GET /api/health: a real query on the PostgreSQL pool and a real PING on
 * Redis, both in flight at once; 200 when both answer, 503 naming the
 * component that is down.
 *
 * Without a token anyone may ask, so a plain request answers from the
 * worker's last probe while it is under a second old: a flood costs at most
 * one query and one PING per worker and second.  A stale answer starts the
 * next probe, which that request waits for; requests meanwhile get the last
 * result, and once that probe has been out for a second, whatever it still
 * waits for counts as down (a hung PostgreSQL turns health to 503 within
 * about two seconds, not after mam_pg_query_timeout).
 *
 * `?deep=1` and `?probe=` always probe live, for the addresses of
 * mam_health_deep_allow only (403 for others).
 *
 * The same query reads the newest row of schema_migrations: the answer
 * names it (`schema`) and the newest migration this build needs
 * (`schema_required`, from the highest schema/NNN_*.sql when it was built,
 * mam_schema.h), and is 503 saying so when the database is behind, so an
 * upgrade that reloaded nginx before migrating shows at once.
 *
 * `?probe=<1..64 of [A-Za-z0-9_-]>` is round-tripped through PostgreSQL as a
 * query parameter and echoed back, so a client can tell that the answer was
 * computed for its own request (used by the pool tests and useful to check
 * a load balancer's path end to end).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "mam_schema.h"


#define NGX_MAM_HEALTH_PROBE_MAX  64
#define NGX_MAM_HEALTH_CACHE      1000    /* ms */
#define NGX_MAM_HEALTH_SCHEMA_MAX 64

/* the newest migration applied, as schema_migrations names it ("" when
 * none is) and its number */
typedef struct {
    u_char        name[NGX_MAM_HEALTH_SCHEMA_MAX];
    ngx_int_t     number;
} ngx_mam_health_schema_t;


typedef struct {
    ngx_uint_t    pending;
    ngx_uint_t    pg_ok;
    ngx_uint_t    redis_ok;
    ngx_uint_t    pg_done;
    ngx_uint_t    redis_done;
    ngx_uint_t    refresh;     /* this probe refreshes the worker's cache */
    ngx_str_t     probe;
    json_t       *probe_echo;
    ngx_mam_health_schema_t  schema;
} ngx_mam_health_t;


/* this worker's last probe */
typedef struct {
    ngx_msec_t         done;       /* when it ended */
    ngx_msec_t         started;    /* when the one in flight began */
    ngx_mam_health_t  *prober;     /* the one in flight, or NULL */
    unsigned           valid:1;
    unsigned           pg_ok:1;
    unsigned           redis_ok:1;
    ngx_mam_health_schema_t  schema;
} ngx_mam_health_cache_t;


static ngx_mam_health_cache_t  ngx_mam_health_cache;


static ngx_int_t
ngx_mam_health_answer(ngx_http_request_t *r, ngx_uint_t pg_ok,
    ngx_uint_t redis_ok, ngx_mam_health_schema_t *schema, json_t *probe_echo)
{
    u_char      msg[NGX_MAM_HEALTH_SCHEMA_MAX + 160], *last;
    json_t     *body;
    ngx_uint_t  ok, schema_ok;

    /* the schema is known only from a query that answered */
    schema_ok = !pg_ok || schema->number >= NGX_MAM_SCHEMA_NUMBER;
    ok = pg_ok && redis_ok && schema_ok;

    body = json_pack("{s:s, s:s, s:s, s:s, s:s}",
                     "status", ok ? "ok" : "unavailable",
                     "postgres", pg_ok ? "ok" : "down",
                     "redis", redis_ok ? "ok" : "down",
                     "version", NGX_MAM_VERSION,
                     "schema_required", NGX_MAM_SCHEMA_VERSION);

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (pg_ok) {
        json_object_set_new(body, "schema", schema->name[0]
                            ? json_string((char *) schema->name)
                            : json_null());
    }

    if (!ok) {
        json_object_set_new(body, "error", json_string("unavailable"));

        if (!pg_ok || !redis_ok) {
            json_object_set_new(body, "message", json_string(
                !pg_ok ? (!redis_ok ? "postgres and redis are down"
                                    : "postgres is down")
                       : "redis is down"));

        } else {
            last = ngx_snprintf(msg, sizeof(msg) - 1,
                                "the database schema is behind this module: "
                                "%s applied, %s needed; run the migrations "
                                "(mam-migrate)",
                                schema->name[0] ? (char *) schema->name
                                                : "no migration",
                                NGX_MAM_SCHEMA_VERSION);
            *last = '\0';
            json_object_set_new(body, "message", json_string((char *) msg));
        }
    }

    if (probe_echo) {
        json_object_set(body, "probe", probe_echo);
    }

    return ngx_mam_send_json(r, ok ? NGX_HTTP_OK
                                   : NGX_HTTP_SERVICE_UNAVAILABLE, body);
}


static void
ngx_mam_health_finish(ngx_http_request_t *r, ngx_mam_health_t *h)
{
    ngx_mam_health_cache_t  *c = &ngx_mam_health_cache;

    if (--h->pending) {
        return;
    }

    if (h->refresh && c->prober == h) {
        c->prober = NULL;
        c->valid = 1;
        c->pg_ok = h->pg_ok ? 1 : 0;
        c->redis_ok = h->redis_ok ? 1 : 0;
        c->schema = h->schema;
        c->done = ngx_current_msec;
    }

    ngx_http_finalize_request(r, ngx_mam_health_answer(r, h->pg_ok,
                                                       h->redis_ok,
                                                       &h->schema,
                                                       h->probe_echo));
}


/* the request that carried the probe went away first: the next request
 * starts another */
static void
ngx_mam_health_cleanup(void *data)
{
    ngx_mam_health_t  *h = data;

    if (ngx_mam_health_cache.prober == h) {
        ngx_mam_health_cache.prober = NULL;
    }
}


static void
ngx_mam_health_pg_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                i, len;
    ngx_int_t          n;
    ngx_mam_health_t  *h = data;

    h->pg_done = 1;
    h->pg_ok = ngx_mam_pg_ok(res) && PQntuples(res) == 1
               && PQnfields(res) == 2;

    if (h->pg_ok && !PQgetisnull(res, 0, 1)) {
        len = PQgetlength(res, 0, 1);
        len = ngx_min(len, NGX_MAM_HEALTH_SCHEMA_MAX - 1);
        ngx_memcpy(h->schema.name, PQgetvalue(res, 0, 1), len);
        h->schema.name[len] = '\0';
        /* NNN_name: the number before the first '_' */
        for (n = 0, i = 0; i < len && h->schema.name[i] >= '0'
                           && h->schema.name[i] <= '9' && n < 100000; i++)
        {
            n = n * 10 + (h->schema.name[i] - '0');
        }
        h->schema.number = n;
    }

    if (h->pg_ok && h->probe.len) {
        h->probe_echo = json_stringn(PQgetvalue(res, 0, 0),
                                     PQgetlength(res, 0, 0));
        if (h->probe_echo) {
            (void) ngx_mam_json_cleanup_add(r->pool, h->probe_echo);
        }
    }

    ngx_mam_health_finish(r, h);
}


static void
ngx_mam_health_redis_done(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_mam_health_t  *h = data;

    h->redis_done = 1;
    h->redis_ok = reply != NULL && reply->type == REDIS_REPLY_STATUS
                  && ngx_strcmp(reply->str, "PONG") == 0;

    ngx_mam_health_finish(r, h);
}


static ngx_int_t
ngx_mam_health_probe(ngx_http_request_t *r, ngx_str_t *probe)
{
    u_char  *p;

    if (ngx_http_arg(r, (u_char *) "probe", 5, probe) != NGX_OK) {
        ngx_str_null(probe);
        return NGX_OK;
    }

    if (probe->len == 0 || probe->len > NGX_MAM_HEALTH_PROBE_MAX) {
        return NGX_ERROR;
    }

    for (p = probe->data; p < probe->data + probe->len; p++) {
        if (!ngx_mam_is_token_char(*p)) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the answer of a plain request from this worker's cache, or NGX_DECLINED
 * when it must probe itself (refresh: and store what it finds) */
static ngx_int_t
ngx_mam_health_cached(ngx_http_request_t *r, ngx_uint_t *refresh)
{
    ngx_msec_t               now;
    ngx_mam_health_t        *p;
    ngx_mam_health_cache_t  *c = &ngx_mam_health_cache;

    now = ngx_current_msec;
    *refresh = 0;

    if (c->valid && now - c->done < NGX_MAM_HEALTH_CACHE) {
        return ngx_mam_health_answer(r, c->pg_ok, c->redis_ok, &c->schema,
                                     NULL);
    }

    p = c->prober;

    if (p == NULL) {
        *refresh = 1;
        return NGX_DECLINED;
    }

    if (now - c->started < NGX_MAM_HEALTH_CACHE) {
        /* the next probe is on its way: the last result meanwhile, or, at
         * a worker's start before any, a probe of its own */
        return c->valid ? ngx_mam_health_answer(r, c->pg_ok, c->redis_ok,
                                                &c->schema, NULL)
                        : NGX_DECLINED;
    }

    /* out for a second: what it still waits for does not answer */
    return ngx_mam_health_answer(r, p->pg_done && p->pg_ok,
                                 p->redis_done && p->redis_ok, &p->schema,
                                 NULL);
}


static ngx_uint_t
ngx_mam_health_deep_allowed(ngx_http_request_t *r)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    return mcf->health_deep_allow != NULL
           && ngx_cidr_match(r->connection->sockaddr, mcf->health_deep_allow)
              == NGX_OK;
}


ngx_int_t
ngx_mam_health_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t               rc;
    ngx_str_t               deep;
    ngx_uint_t              refresh;
    const char            **values, *ping;
    ngx_mam_health_t       *h;
    ngx_pool_cleanup_t     *cln;
    ngx_mam_main_conf_t    *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    h = ngx_pcalloc(r->pool, sizeof(ngx_mam_health_t));
    values = ngx_pcalloc(r->pool, sizeof(char *));
    if (h == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_mam_health_probe(r, &h->probe) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "probe: must be 1..64 characters of "
                                  "[A-Za-z0-9_-]");
    }

    if (ngx_http_arg(r, (u_char *) "deep", 4, &deep) != NGX_OK) {
        ngx_str_null(&deep);

    } else if (deep.len != 1 || (deep.data[0] != '0' && deep.data[0] != '1'))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "deep: must be 0 or 1");
    }

    refresh = 0;

    if (h->probe.len || (deep.len && deep.data[0] == '1')) {

        if (!ngx_mam_health_deep_allowed(r)) {
            return ngx_mam_send_error(r, NGX_HTTP_FORBIDDEN,
                                      "deep health checks are for the "
                                      "addresses of mam_health_deep_allow");
        }

    } else {
        rc = ngx_mam_health_cached(r, &refresh);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (refresh) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }

        cln->handler = ngx_mam_health_cleanup;
        cln->data = h;

        h->refresh = 1;
        ngx_mam_health_cache.prober = h;
        ngx_mam_health_cache.started = ngx_current_msec;
    }

    ctx->data = h;
    h->pending = 2;

    if (h->probe.len) {
        values[0] = ngx_mam_cstr(r->pool, &h->probe);
        if (values[0] == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
    }

    /* schema_migrations exists once anything was migrated: the module
     * serves no database that was not (a failing query is "down") */
    if (ngx_mam_pg_query(r, h->probe.len
                            ? "SELECT $1::text, (SELECT max(version)"
                              " FROM schema_migrations)"
                            : "SELECT 1, (SELECT max(version)"
                              " FROM schema_migrations)",
                         h->probe.len ? 1 : 0, values,
                         ngx_mam_health_pg_done, h)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ping = "PING";

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_health_redis_done, h,
                              1, &ping, NULL)
        != NGX_OK)
    {
        /* the query is already in flight: answer when it returns */
        h->redis_done = 1;
        h->pending--;
    }

    return NGX_DONE;
}
