/*
 * Prometheus metrics: `location = /metrics { mam_metrics; }` answers the
 * text exposition format from one shared memory zone that every worker
 * writes to, so any worker tells the whole server's story.
 *
 *   mam_http_requests_total{route,status}  counted in the log phase of the
 *                                          module's locations
 *   mam_pg_connections{worker,state}       each worker's pool, refreshed
 *   mam_pg_waiting{worker}                 every second by that worker
 *   mam_pg_waits_total, mam_pg_wait_seconds_total  queries that queued for
 *                                          a connection, and for how long
 *   mam_redis_up{worker}, mam_sse_clients{worker}
 *
 * Counters are atomics in the zone: no lock, no allocation per request.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"


#define NGX_MAM_METRICS_ROUTES     64
#define NGX_MAM_METRICS_WORKERS    64
#define NGX_MAM_METRICS_INTERVAL   1000


/* the route slots after the API's own routes */
enum {
    NGX_MAM_METRICS_UPLOAD = NGX_MAM_METRICS_ROUTES - 3,
    NGX_MAM_METRICS_EDGE,
    NGX_MAM_METRICS_UNMATCHED
};


static const ngx_uint_t  ngx_mam_metrics_statuses[] = {
    200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409, 410, 411, 412,
    413, 415, 416, 423, 429, 460, 499, 500, 502, 503, 504, 0 /* other */
};

#define NGX_MAM_METRICS_STATUSES                                              \
    (sizeof(ngx_mam_metrics_statuses) / sizeof(ngx_uint_t))


typedef struct {
    ngx_atomic_t   pid;
    ngx_atomic_t   pg_idle;
    ngx_atomic_t   pg_busy;
    ngx_atomic_t   pg_down;
    ngx_atomic_t   pg_waiting;
    ngx_atomic_t   pg_waits;
    ngx_atomic_t   pg_wait_msec;
    ngx_atomic_t   redis_up;
    ngx_atomic_t   sse_clients;
} ngx_mam_metrics_worker_t;


typedef struct {
    ngx_atomic_t              requests[NGX_MAM_METRICS_ROUTES]
                                      [NGX_MAM_METRICS_STATUSES];
    ngx_mam_metrics_worker_t  workers[NGX_MAM_METRICS_WORKERS];
} ngx_mam_metrics_shm_t;


static ngx_shm_zone_t  *ngx_mam_metrics_zone;
static ngx_event_t      ngx_mam_metrics_timer;
static ngx_int_t        ngx_mam_metrics_edge_var = NGX_ERROR;
static ngx_str_t        ngx_mam_metrics_edge_name =
                            ngx_string("mam_edge_served");


static ngx_mam_metrics_shm_t *
ngx_mam_metrics_shm(void)
{
    if (ngx_mam_metrics_zone == NULL) {
        return NULL;
    }

    return ngx_mam_metrics_zone->data;
}


static ngx_int_t
ngx_mam_metrics_zone_init(ngx_shm_zone_t *zone, void *data)
{
    return ngx_mam_shm_block_init(zone, data, sizeof(ngx_mam_metrics_shm_t));
}


/* --- counting -------------------------------------------------------------- */

static ngx_uint_t
ngx_mam_metrics_status_slot(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_MAM_METRICS_STATUSES - 1; i++) {
        if (ngx_mam_metrics_statuses[i] == status) {
            return i;
        }
    }

    return NGX_MAM_METRICS_STATUSES - 1;
}


/* the edge hands a valid request to its previews location by internal
 * redirect, which forgets module contexts but not variables: the mark
 * travels in $mam_edge_served */
void
ngx_mam_metrics_mark_edge(ngx_http_request_t *r)
{
    ngx_http_variable_value_t  *vv;

    if (ngx_mam_metrics_edge_var == NGX_ERROR) {
        return;
    }

    vv = &r->variables[ngx_mam_metrics_edge_var];
    vv->data = (u_char *) "1";
    vv->len = 1;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
}


static ngx_uint_t
ngx_mam_metrics_edge_served(ngx_http_request_t *r)
{
    return ngx_mam_metrics_edge_var != NGX_ERROR
           && r->variables[ngx_mam_metrics_edge_var].valid
           && r->variables[ngx_mam_metrics_edge_var].len == 1;
}


static ngx_int_t
ngx_mam_metrics_edge_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    (void) r;
    (void) data;

    v->not_found = 1;

    return NGX_OK;
}


ngx_int_t
ngx_mam_metrics_add_variable(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_mam_metrics_edge_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_mam_metrics_edge_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_mam_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_int_t               route;
    ngx_uint_t              status;
    ngx_mam_ctx_t          *ctx;
    ngx_mam_api_loc_conf_t     *alcf;
    ngx_mam_edge_loc_conf_t    *elcf;
    ngx_mam_upload_loc_conf_t  *ulcf;
    ngx_mam_metrics_shm_t  *shm;

    shm = ngx_mam_metrics_shm();
    alcf = ngx_http_get_module_loc_conf(r, ngx_mam_api_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_mam_upload_module);
    elcf = ngx_http_get_module_loc_conf(r, ngx_mam_edge_module);

    if (shm == NULL || r != r->main) {
        return NGX_OK;
    }

    if (alcf->api) {
        ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
        route = ctx ? ngx_mam_route_index(ctx->route) : -1;
        if (route < 0 || route >= NGX_MAM_METRICS_UPLOAD) {
            route = NGX_MAM_METRICS_UNMATCHED;
        }

    } else if (ulcf->upload) {
        route = NGX_MAM_METRICS_UPLOAD;

    } else if (elcf->edge || ngx_mam_metrics_edge_served(r)) {
        route = NGX_MAM_METRICS_EDGE;

    } else {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;
    if (r->connection->error && status == 0) {
        status = NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    (void) ngx_atomic_fetch_add(
               &shm->requests[route][ngx_mam_metrics_status_slot(status)], 1);

    return NGX_OK;
}




/* --- each worker's gauges, every second ---------------------------------- */

static void
ngx_mam_metrics_refresh(ngx_event_t *ev)
{
    ngx_mam_pg_stats_t         st;
    ngx_mam_main_conf_t       *mcf;
    ngx_mam_metrics_shm_t     *shm;
    ngx_mam_metrics_worker_t  *w;

    shm = ngx_mam_metrics_shm();
    mcf = ngx_mam_main_conf();

    if (shm == NULL || ngx_worker >= NGX_MAM_METRICS_WORKERS) {
        return;
    }

    w = &shm->workers[ngx_worker];

    ngx_mam_pg_stats(mcf->pg, &st);

    w->pid = (ngx_atomic_t) ngx_pid;
    w->pg_idle = st.idle;
    w->pg_busy = st.busy;
    w->pg_down = st.down;
    w->pg_waiting = st.waiting;
    w->pg_waits = st.waits;
    w->pg_wait_msec = st.wait_msec;
    w->redis_up = ngx_mam_redis_up(mcf->redis);
    w->sse_clients = ngx_mam_events_clients();

    ngx_mam_timer_again(ev, NGX_MAM_METRICS_INTERVAL);
}


ngx_int_t
ngx_mam_metrics_init_process(ngx_cycle_t *cycle)
{
    if (ngx_mam_metrics_shm() == NULL) {
        return NGX_OK;
    }

    ngx_mam_metrics_timer.handler = ngx_mam_metrics_refresh;
    ngx_mam_metrics_timer.log = cycle->log;
    ngx_mam_metrics_timer.data = cycle;
    ngx_mam_metrics_timer.cancelable = 1;

    ngx_mam_metrics_refresh(&ngx_mam_metrics_timer);

    return NGX_OK;
}


void
ngx_mam_metrics_exit_process(void)
{
    ngx_mam_metrics_shm_t  *shm;

    if (ngx_mam_metrics_timer.timer_set) {
        ngx_del_timer(&ngx_mam_metrics_timer);
    }

    shm = ngx_mam_metrics_shm();
    if (shm && ngx_worker < NGX_MAM_METRICS_WORKERS) {
        shm->workers[ngx_worker].pid = 0;
    }
}


/* --- the exposition ---------------------------------------------------------- */

static u_char *
ngx_mam_metrics_requests(u_char *p, u_char *last, ngx_mam_metrics_shm_t *shm)
{
    ngx_uint_t   i, j;
    ngx_atomic_t n;
    const char  *route;
    char         status[8];

    p = ngx_slprintf(p, last,
                     "# HELP mam_http_requests_total Requests by route and "
                     "status.\n# TYPE mam_http_requests_total counter\n");

    for (i = 0; i < NGX_MAM_METRICS_ROUTES; i++) {
        route = i == NGX_MAM_METRICS_UPLOAD ? "upload"
                : i == NGX_MAM_METRICS_EDGE ? "edge"
                : i == NGX_MAM_METRICS_UNMATCHED ? "unmatched"
                : ngx_mam_route_name(i);
        if (route == NULL) {
            continue;
        }

        for (j = 0; j < NGX_MAM_METRICS_STATUSES; j++) {
            n = shm->requests[i][j];
            if (n == 0) {
                continue;
            }
            if (ngx_mam_metrics_statuses[j]) {
                ngx_sprintf((u_char *) status, "%ui%Z",
                            ngx_mam_metrics_statuses[j]);
            } else {
                ngx_cpystrn((u_char *) status, (u_char *) "other", 8);
            }
            p = ngx_slprintf(p, last, "mam_http_requests_total{route=\"%s\","
                             "status=\"%s\"} %uA\n", route, status, n);
        }
    }

    return p;
}


/* one gauge or counter per live worker */
#define ngx_mam_metrics_per_worker(p, last, shm, name, type, help, labels,    \
                                   expr)                                      \
    do {                                                                      \
        ngx_uint_t                 i_;                                        \
        ngx_mam_metrics_worker_t  *w;                                         \
        p = ngx_slprintf(p, last, "# HELP " name " " help "\n# TYPE " name    \
                         " " type "\n");                                      \
        for (i_ = 0; i_ < NGX_MAM_METRICS_WORKERS; i_++) {                    \
            w = &(shm)->workers[i_];                                          \
            if (w->pid == 0) {                                                \
                continue;                                                     \
            }                                                                 \
            p = ngx_slprintf(p, last, name "{worker=\"%ui\"" labels "} %s\n", \
                             i_, expr);                                       \
        }                                                                     \
    } while (0)


static u_char *
ngx_mam_metrics_workers(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_mam_metrics_shm_t *shm)
{
    ngx_uint_t                 i, s;
    ngx_mam_metrics_worker_t  *w;

    static const char  *states[] = { "idle", "busy", "down" };

    p = ngx_slprintf(p, last,
                     "# HELP mam_pg_connections PostgreSQL connections of each "
                     "worker's pool.\n# TYPE mam_pg_connections gauge\n");
    for (i = 0; i < NGX_MAM_METRICS_WORKERS; i++) {
        w = &shm->workers[i];
        if (w->pid == 0) {
            continue;
        }
        for (s = 0; s < 3; s++) {
            p = ngx_slprintf(p, last, "mam_pg_connections{worker=\"%ui\","
                             "state=\"%s\"} %uA\n", i, states[s],
                             s == 0 ? w->pg_idle : s == 1 ? w->pg_busy
                                                          : w->pg_down);
        }
    }

    ngx_mam_metrics_per_worker(p, last, shm, "mam_pg_waiting", "gauge",
        "Queries waiting for a PostgreSQL connection.", "",
        ngx_mam_message(pool, "%uA", w->pg_waiting));
    ngx_mam_metrics_per_worker(p, last, shm, "mam_pg_waits_total", "counter",
        "Queries that had to wait for a PostgreSQL connection.", "",
        ngx_mam_message(pool, "%uA", w->pg_waits));
    ngx_mam_metrics_per_worker(p, last, shm, "mam_pg_wait_seconds_total",
        "counter", "Time queries spent waiting for a connection.", "",
        ngx_mam_message(pool, "%uA.%03uA", w->pg_wait_msec / 1000,
                        w->pg_wait_msec % 1000));
    ngx_mam_metrics_per_worker(p, last, shm, "mam_redis_up", "gauge",
        "1 while the worker's Redis connection is up.", "",
        ngx_mam_message(pool, "%uA", w->redis_up));
    ngx_mam_metrics_per_worker(p, last, shm, "mam_sse_clients", "gauge",
        "Server-Sent Events clients connected to the worker.", "",
        ngx_mam_message(pool, "%uA", w->sse_clients));

    return p;
}


static ngx_int_t
ngx_mam_metrics_handler(ngx_http_request_t *r)
{
    size_t                  size;
    u_char                 *p, *last;
    ngx_buf_t              *b;
    ngx_int_t               rc;
    ngx_chain_t             out;
    ngx_mam_metrics_shm_t  *shm;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    shm = ngx_mam_metrics_shm();
    if (shm == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    size = 256 * 1024;
    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    p = ngx_mam_metrics_requests(p, last, shm);
    p = ngx_mam_metrics_workers(r->pool, p, last, shm);

    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* --- configuration ------------------------------------------------------------ */

/* postconfiguration: the zone and the log-phase counter */
static ngx_int_t
ngx_mam_metrics_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t                   name = ngx_string("mam_metrics");
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_mam_metrics_zone = ngx_shared_memory_add(cf, &name,
                               ngx_align(sizeof(ngx_mam_metrics_shm_t)
                                         + 8 * ngx_pagesize, ngx_pagesize),
                               &ngx_mam_metrics_module);
    if (ngx_mam_metrics_zone == NULL) {
        return NGX_ERROR;
    }

    ngx_mam_metrics_zone->init = ngx_mam_metrics_zone_init;

    ngx_mam_metrics_edge_var = ngx_http_get_variable_index(cf,
                                   &ngx_mam_metrics_edge_name);
    if (ngx_mam_metrics_edge_var == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_mam_metrics_log_handler;

    return NGX_OK;
}


/* location = /metrics { mam_metrics; } */
static ngx_mam_conf_handler_t  ngx_mam_metrics_location = {
    ngx_mam_metrics_handler
};


static ngx_command_t  ngx_mam_metrics_commands[] = {

    { ngx_string("mam_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_conf_set_location_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_mam_metrics_location },

      ngx_null_command
};


static ngx_http_module_t  ngx_mam_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_mam_metrics_postconfiguration,     /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


/* the counters' zone and log handler; their per-worker part (the pool
 * gauges) starts with the core's workers (ngx_mam_init_process) */
ngx_module_t  ngx_mam_metrics_module = {
    NGX_MODULE_V1,
    &ngx_mam_metrics_module_ctx,           /* module context */
    ngx_mam_metrics_commands,              /* module directives */
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
