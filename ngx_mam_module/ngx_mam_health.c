/*
 * GET /api/health: a real query on the PostgreSQL pool and a real PING on
 * Redis, both in flight at once; 200 when both answer, 503 naming the
 * component that is down.
 *
 * `?probe=<1..64 of [A-Za-z0-9_-]>` is round-tripped through PostgreSQL as a
 * query parameter and echoed back, so a client can tell that the answer was
 * computed for its own request (used by the pool tests and useful to check
 * a load balancer's path end to end).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"


#define NGX_MAM_HEALTH_PROBE_MAX  64


typedef struct {
    ngx_uint_t    pending;
    ngx_uint_t    pg_ok;
    ngx_uint_t    redis_ok;
    ngx_str_t     probe;
    json_t       *probe_echo;
} ngx_mam_health_t;


static void
ngx_mam_health_finish(ngx_http_request_t *r, ngx_mam_health_t *h)
{
    json_t     *body;
    ngx_int_t   rc;
    ngx_uint_t  ok;

    if (--h->pending) {
        return;
    }

    ok = h->pg_ok && h->redis_ok;

    body = json_pack("{s:s, s:s, s:s, s:s}",
                     "status", ok ? "ok" : "unavailable",
                     "postgres", h->pg_ok ? "ok" : "down",
                     "redis", h->redis_ok ? "ok" : "down",
                     "version", NGX_MAM_VERSION);

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!ok) {
        json_object_set_new(body, "error", json_string("unavailable"));
        json_object_set_new(body, "message", json_string(
            !h->pg_ok ? (!h->redis_ok ? "postgres and redis are down"
                                      : "postgres is down")
                      : "redis is down"));
    }

    if (h->probe_echo) {
        json_object_set(body, "probe", h->probe_echo);
    }

    rc = ngx_mam_send_json(r, ok ? NGX_HTTP_OK
                                 : NGX_HTTP_SERVICE_UNAVAILABLE, body);

    ngx_http_finalize_request(r, rc);
}


static void
ngx_mam_health_pg_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_mam_health_t  *h = data;

    h->pg_ok = ngx_mam_pg_ok(res) && PQntuples(res) == 1;

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


ngx_int_t
ngx_mam_health_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char           **values, *ping;
    ngx_mam_health_t      *h;
    ngx_mam_main_conf_t   *mcf;

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

    ctx->data = h;
    h->pending = 2;

    if (h->probe.len) {
        values[0] = ngx_mam_cstr(r->pool, &h->probe);
        if (values[0] == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
    }

    if (ngx_mam_pg_query(r, h->probe.len ? "SELECT $1::text" : "SELECT 1",
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
        h->pending--;
    }

    return NGX_DONE;
}
