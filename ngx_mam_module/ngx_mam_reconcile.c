/*
 * Reconciliation (pipeline.md, The job), worker 0 only, every
 * mam_preview_reconcile_interval: PostgreSQL says which jobs should be in
 * flight; the stream says which entries are alive: unread (after the
 * group's last delivered id) or pending with a consumer that still makes
 * progress.  A job without a live entry (never added because Redis was
 * down, the stream deleted, or its worker silent for
 * mam_preview_stall_timeout) gets a new entry; a stalled pending one is
 * acknowledged so it leaves the dead consumer's list.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_preview.h"


#define NGX_MAM_RECONCILE_PENDING_MAX  "10000"


typedef struct {
    ngx_pool_t               *pool;
    ngx_array_t               pending;        /* of ngx_str_t ids */
    ngx_array_t               unread;         /* of ngx_str_t ids */
    ngx_str_t                 last_delivered;
    json_t                   *jobs;
    size_t                    next;
    json_t                   *job;
    json_t                   *entry;
    const char               *values[2];
} ngx_mam_rc_run_t;


static ngx_event_t  ngx_mam_rc_event;


static void ngx_mam_rc_next(ngx_mam_rc_run_t *run);


static void
ngx_mam_rc_finish(ngx_mam_rc_run_t *run)
{
    ngx_mam_main_conf_t  *mcf;

    json_decref(run->jobs);
    json_decref(run->entry);
    ngx_destroy_pool(run->pool);

    mcf = ngx_mam_main_conf();

    ngx_mam_timer_again(&ngx_mam_rc_event, mcf->reconcile_interval);
}


static ngx_uint_t
ngx_mam_rc_member(ngx_array_t *set, ngx_str_t *id)
{
    ngx_str_t   *ids;
    ngx_uint_t   i;

    ids = set->elts;
    for (i = 0; i < set->nelts; i++) {
        if (ids[i].len == id->len
            && ngx_strncmp(ids[i].data, id->data, id->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* --- one job at a time ---------------------------------------------------- */

static void
ngx_mam_rc_recorded(PGresult *res, void *data)
{
    (void) res;

    ngx_mam_rc_next(data);
}


static void
ngx_mam_rc_added(redisReply *reply, void *data)
{
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: reconcile: XADD failed, next run retries");
        ngx_mam_rc_finish(run);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "mam: reconcile: job %s re-enqueued as %s",
                  json_string_value(json_object_get(run->entry, "job_id")),
                  reply->str);

    run->values[0] = json_string_value(json_object_get(run->entry, "job_id"));
    run->values[1] = ngx_mam_message(run->pool, "%s", reply->str);

    if (ngx_mam_pg_task_query(mcf->pg, run->pool,
                              "SELECT mam_job_enqueued($1, $2)", 2,
                              run->values, ngx_mam_rc_recorded, run)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


static void
ngx_mam_rc_requeued(PGresult *res, void *data)
{
    json_t               *v;
    const char           *argv[15];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    v = ngx_mam_pg_ok(res) && PQntuples(res) == 1
        ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL)
        : NULL;

    if (v == NULL || !ngx_mam_outcome(v, "ok")) {
        /* finished meanwhile, or PostgreSQL went away */
        json_decref(v);
        if (res == NULL) {
            ngx_mam_rc_finish(run);
        } else {
            ngx_mam_rc_next(run);
        }
        return;
    }

    json_decref(run->entry);
    run->entry = json_incref(json_object_get(v, "entry"));
    json_decref(v);

    if (ngx_mam_preview_entry_argv(run->pool, run->entry, argv) != NGX_OK
        || ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_added, run, 15,
                                      argv, NULL)
           != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


static void
ngx_mam_rc_ignore(redisReply *reply, void *data)
{
    (void) reply;
    (void) data;
}


static void
ngx_mam_rc_next(ngx_mam_rc_run_t *run)
{
    json_t               *sid;
    ngx_str_t             id;
    ngx_uint_t            stalled, pending, unread;
    const char           *argv[4];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    while (run->next < json_array_size(run->jobs)) {
        run->job = json_array_get(run->jobs, run->next++);

        sid = json_object_get(run->job, "stream_id");
        stalled = json_is_true(json_object_get(run->job, "stalled"));

        if (json_is_string(sid)) {
            id.data = (u_char *) json_string_value(sid);
            id.len = json_string_length(sid);

            pending = ngx_mam_rc_member(&run->pending, &id);
            unread = ngx_mam_rc_member(&run->unread, &id);

            if (unread || (pending && !stalled)) {
                continue;
            }

            if (pending) {
                argv[0] = "XACK";
                argv[1] = NGX_MAM_PREVIEW_STREAM;
                argv[2] = NGX_MAM_PREVIEW_GROUP;
                argv[3] = (const char *) id.data;
                (void) ngx_mam_redis_task_command(mcf->redis,
                                                  ngx_mam_rc_ignore, NULL, 4,
                                                  argv, NULL);
            }
        }

        run->values[0] = json_string_value(json_object_get(run->job,
                                                           "job_id"));

        if (ngx_mam_pg_task_query(mcf->pg, run->pool,
                                  "SELECT mam_job_requeue($1)", 1,
                                  run->values, ngx_mam_rc_requeued, run)
            != NGX_OK)
        {
            ngx_mam_rc_finish(run);
        }
        return;
    }

    ngx_mam_rc_finish(run);
}


/* --- what the stream and PostgreSQL say ------------------------------------ */

static void
ngx_mam_rc_jobs(PGresult *res, void *data)
{
    ngx_mam_rc_run_t  *run = data;

    run->jobs = ngx_mam_pg_ok(res) && PQntuples(res) == 1
                ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0),
                             0, NULL)
                : NULL;

    if (!json_is_array(run->jobs)) {
        ngx_mam_rc_finish(run);
        return;
    }

    ngx_mam_rc_next(run);
}


/* the first element of each entry of an XPENDING or XRANGE reply */
static ngx_int_t
ngx_mam_rc_collect(ngx_mam_rc_run_t *run, redisReply *reply,
    ngx_array_t *set)
{
    size_t       i;
    ngx_str_t   *id;
    redisReply  *e;

    /* an error (NOGROUP: the stream is gone) leaves the set empty */
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        id = ngx_array_push(set);
        if (id == NULL) {
            return NGX_ERROR;
        }

        id->len = e->element[0]->len;
        id->data = ngx_pnalloc(run->pool, id->len);
        if (id->data == NULL) {
            return NGX_ERROR;
        }
        ngx_memcpy(id->data, e->element[0]->str, id->len);
    }

    return NGX_OK;
}


static void
ngx_mam_rc_unread_read(redisReply *reply, void *data)
{
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL || ngx_mam_rc_collect(run, reply, &run->unread)
                         != NGX_OK)
    {
        ngx_mam_rc_finish(run);
        return;
    }

    run->values[0] = ngx_mam_message(run->pool, "%T", mcf->preview_stall);

    if (ngx_mam_pg_task_query(mcf->pg, run->pool,
                              "SELECT mam_preview_active($1)", 1,
                              run->values, ngx_mam_rc_jobs, run)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


static void
ngx_mam_rc_pending_read(redisReply *reply, void *data)
{
    const char           *argv[6];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL || ngx_mam_rc_collect(run, reply, &run->pending)
                         != NGX_OK)
    {
        ngx_mam_rc_finish(run);
        return;
    }

    /* the entries not yet delivered to any consumer */
    argv[0] = "XRANGE";
    argv[1] = NGX_MAM_PREVIEW_STREAM;
    argv[2] = ngx_mam_message(run->pool, "(%V", &run->last_delivered);
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = NGX_MAM_RECONCILE_PENDING_MAX;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_unread_read, run,
                                   6, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


static void
ngx_mam_rc_groups(redisReply *reply, void *data)
{
    size_t                i, j;
    redisReply           *g, *k, *v;
    ngx_uint_t            ours;
    const char           *argv[6];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL) {
        ngx_mam_rc_finish(run);
        return;
    }

    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        g = reply->element[i];
        ours = 0;

        for (j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements;
             j += 2)
        {
            k = g->element[j];
            v = g->element[j + 1];

            if (k->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            if (ngx_strcmp(k->str, "name") == 0) {
                ours = ngx_strcmp(v->str, NGX_MAM_PREVIEW_GROUP) == 0;

            } else if (ours && ngx_strcmp(k->str, "last-delivered-id") == 0) {
                run->last_delivered.len = v->len;
                run->last_delivered.data = ngx_pnalloc(run->pool, v->len);
                if (run->last_delivered.data == NULL) {
                    ngx_mam_rc_finish(run);
                    return;
                }
                ngx_memcpy(run->last_delivered.data, v->str, v->len);
            }
        }
    }

    argv[0] = "XPENDING";
    argv[1] = NGX_MAM_PREVIEW_STREAM;
    argv[2] = NGX_MAM_PREVIEW_GROUP;
    argv[3] = "-";
    argv[4] = "+";
    argv[5] = NGX_MAM_RECONCILE_PENDING_MAX;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_pending_read, run,
                                   6, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


/* the group exists (from the stream's start, so nothing added before it
 * was made is skipped); then its state */
static void
ngx_mam_rc_group_made(redisReply *reply, void *data)
{
    const char           *argv[3];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: reconcile: redis unavailable, next run retries");
        ngx_mam_rc_finish(run);
        return;
    }

    argv[0] = "XINFO";
    argv[1] = "GROUPS";
    argv[2] = NGX_MAM_PREVIEW_STREAM;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_groups, run, 3,
                                   argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


static void
ngx_mam_rc_handler(ngx_event_t *ev)
{
    ngx_pool_t           *pool;
    const char           *argv[6];
    ngx_mam_rc_run_t     *run;
    ngx_mam_main_conf_t  *mcf;

    (void) ev;

    if (ngx_mam_shutting_down()) {
        return;
    }

    mcf = ngx_mam_main_conf();

    pool = ngx_create_pool(4096, ngx_cycle->log);
    run = pool ? ngx_pcalloc(pool, sizeof(ngx_mam_rc_run_t)) : NULL;
    if (run == NULL
        || ngx_array_init(&run->pending, pool, 16, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&run->unread, pool, 16, sizeof(ngx_str_t))
           != NGX_OK)
    {
        if (pool) {
            ngx_destroy_pool(pool);
        }
        ngx_add_timer(&ngx_mam_rc_event, mcf->reconcile_interval);
        return;
    }

    run->pool = pool;
    ngx_str_set(&run->last_delivered, "0-0");

    argv[0] = "XGROUP";
    argv[1] = "CREATE";
    argv[2] = NGX_MAM_PREVIEW_STREAM;
    argv[3] = NGX_MAM_PREVIEW_GROUP;
    argv[4] = "0";
    argv[5] = "MKSTREAM";

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_group_made, run, 6,
                                   argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


ngx_int_t
ngx_mam_reconcile_init(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf)
{
    if (ngx_process != NGX_PROCESS_WORKER || ngx_worker != 0) {
        return NGX_OK;
    }

    /* soon after start, so jobs queued while nginx was down go out */
    ngx_mam_timer_start(&ngx_mam_rc_event, ngx_mam_rc_handler, NULL,
                        ngx_min(mcf->reconcile_interval, 1000));

    return NGX_OK;
}
