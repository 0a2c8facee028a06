/*
 * Reconciliation (pipeline.md, The job), worker 0 only, every
 * mam_preview_reconcile_interval: PostgreSQL says which jobs should be in
 * flight; the stream says which entries are alive: unread (after the
 * group's last delivered id) or pending with a consumer that still makes
 * progress.  Entries are matched to jobs by the job_id they carry.  A job
 * without a live entry (never added because Redis was down, the stream
 * deleted, or its worker silent for mam_preview_stall_timeout) gets a new
 * entry; a stalled pending one is acknowledged so it leaves the dead
 * consumer's list.  Silent means both: no progress in PostgreSQL for the
 * timeout, and the entry delivered at least that long ago (its idle time
 * in XPENDING), since a job that waited in the queue longer than the
 * timeout has old progress the moment a worker takes it.
 *
 * PostgreSQL is read first and the stream second, so the entry of any job
 * whose XADD finished before the stream was read is seen.  A job enqueued
 * less than mam_preview_enqueue_grace ago (at least mam_redis_timeout) is
 * left alone: its promote or request may not have sent its XADD yet.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "ngx_mam_preview.h"


/* the most pending and the most unread entries one run looks at; beyond
 * either, the run adds nothing (a job it does not see may have an entry).
 * mam_preview_stream_maxlen is never below it, so trimming the stream's
 * oldest entries never removes one a run could still need to see */
#define NGX_MAM_RECONCILE_MAX    10000
#define NGX_MAM_RECONCILE_MAX_S  "10000"


typedef struct {
    ngx_str_t                 id;             /* the entry's id */
    ngx_str_t                 job;            /* its job_id field */
    ngx_msec_t                idle;           /* pending: since delivered */
} ngx_mam_rc_entry_t;


typedef struct {
    ngx_pool_t               *pool;
    ngx_array_t               pending;        /* of ngx_mam_rc_entry_t */
    ngx_array_t               unread;         /* of ngx_mam_rc_entry_t */
    ngx_str_t                 last_delivered;
    ngx_uint_t                waiting;        /* XRANGE replies to come */
    unsigned                  failed:1;
    unsigned                  truncated:1;
    json_t                   *jobs;
    size_t                    next;
    json_t                   *job;
    json_t                   *entry;
    const char               *values[2];
} ngx_mam_rc_run_t;


typedef struct {
    ngx_mam_rc_run_t         *run;
    ngx_uint_t                index;          /* in run->pending */
} ngx_mam_rc_slot_t;


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


/* how long a just-enqueued job is left alone, in milliseconds */
static ngx_msec_t
ngx_mam_rc_grace(ngx_mam_main_conf_t *mcf)
{
    return ngx_max(mcf->enqueue_grace, mcf->redis_timeout);
}


static int ngx_libc_cdecl
ngx_mam_rc_cmp(const void *one, const void *two)
{
    int                        rc;
    const ngx_mam_rc_entry_t  *a = one, *b = two;

    rc = ngx_memcmp(a->job.data, b->job.data, ngx_min(a->job.len, b->job.len));
    if (rc != 0) {
        return rc;
    }

    return (a->job.len > b->job.len) - (a->job.len < b->job.len);
}


/* the entries of a set (sorted by job) that carry the job: the index of
 * the first one, and how many */
static ngx_uint_t
ngx_mam_rc_carrying(ngx_array_t *set, ngx_str_t *job, ngx_uint_t *first)
{
    ngx_uint_t           lo, hi, mid, n;
    ngx_mam_rc_entry_t  *e, key;

    e = set->elts;
    key.job = *job;
    lo = 0;
    hi = set->nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (ngx_mam_rc_cmp(&e[mid], &key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    for (n = 0; lo + n < set->nelts && ngx_mam_rc_cmp(&e[lo + n], &key) == 0;
         n++)
    {
        /* void */
    }

    *first = lo;

    return n;
}


/* whether one of the job's pending entries was delivered less than the
 * stall timeout ago: its worker may not have reported yet */
static ngx_uint_t
ngx_mam_rc_just_taken(ngx_array_t *pending, ngx_uint_t first, ngx_uint_t n,
    ngx_msec_t stall)
{
    ngx_uint_t           i;
    ngx_mam_rc_entry_t  *e;

    e = pending->elts;

    for (i = first; i < first + n; i++) {
        if (e[i].idle < stall) {
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
                  ngx_mam_preview_job_id(run->entry),
                  reply->str);

    run->values[0] = json_string_value(json_object_get(run->entry,
                                                       MAM_JOB_JOB_ID));
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
    ngx_int_t             rc;
    const char           *argv[NGX_MAM_PREVIEW_ARGC];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    v = ngx_mam_pg_ok(res) && PQntuples(res) == 1
        ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL)
        : NULL;

    if (v == NULL || ngx_mam_outcome(v) != MAM_OUTCOME_OK) {
        /* finished or enqueued again meanwhile, or PostgreSQL went away */
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

    rc = ngx_mam_preview_entry_argv(run->pool, run->entry, argv);

    if (rc == NGX_DECLINED) {
        /* one bad row must not hold up the jobs after it */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "mam: reconcile: job %s: malformed entry, not added",
                      ngx_mam_preview_job_id(run->entry));
        ngx_mam_rc_next(run);
        return;
    }

    if (rc != NGX_OK
        || ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_added, run,
                                      NGX_MAM_PREVIEW_ARGC, argv, NULL)
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
    json_t               *jid;
    ngx_str_t             job;
    ngx_uint_t            i, first, pending, unread, stalled;
    const char           *argv[4];
    ngx_mam_rc_entry_t   *e;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    while (run->next < json_array_size(run->jobs)) {
        run->job = json_array_get(run->jobs, run->next++);

        jid = json_object_get(run->job, "job_id");
        if (!json_is_string(jid)
            || json_is_true(json_object_get(run->job, "fresh")))
        {
            continue;
        }

        job.data = (u_char *) json_string_value(jid);
        job.len = json_string_length(jid);

        unread = ngx_mam_rc_carrying(&run->unread, &job, &first);
        pending = ngx_mam_rc_carrying(&run->pending, &job, &first);
        stalled = json_is_true(json_object_get(run->job, "stalled"))
                  && !ngx_mam_rc_just_taken(&run->pending, first, pending,
                                            (ngx_msec_t) mcf->preview_stall
                                            * 1000);

        if (unread || (pending && !stalled)) {
            continue;
        }

        if (run->truncated) {
            /* its entry may be beyond what this run read */
            continue;
        }

        e = run->pending.elts;

        for (i = first; i < first + pending; i++) {
            argv[0] = "XACK";
            argv[1] = MAM_STREAM_BUILD;
            argv[2] = MAM_STREAM_GROUP;
            argv[3] = (const char *) e[i].id.data;
            (void) ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_ignore,
                                              NULL, 4, argv, NULL);
        }

        run->values[0] = json_string_value(jid);
        run->values[1] = ngx_mam_message(run->pool, "%M",
                                         ngx_mam_rc_grace(mcf));

        if (ngx_mam_pg_task_query(mcf->pg, run->pool,
                                  "SELECT mam_job_requeue($1, $2)", 2,
                                  run->values, ngx_mam_rc_requeued, run)
            != NGX_OK)
        {
            ngx_mam_rc_finish(run);
        }
        return;
    }

    ngx_mam_rc_finish(run);
}


/* --- what PostgreSQL and then the stream say ------------------------------- */

static ngx_int_t
ngx_mam_rc_copy(ngx_pool_t *pool, ngx_str_t *to, redisReply *from)
{
    to->len = from->len;
    to->data = ngx_pnalloc(pool, from->len + 1);
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, from->str, from->len);
    to->data[from->len] = '\0';

    return NGX_OK;
}


/* an entry of an XRANGE reply: [id, [field, value, ...]]; its job_id
 * (empty when it has none) */
static ngx_int_t
ngx_mam_rc_entry(ngx_pool_t *pool, redisReply *r, ngx_mam_rc_entry_t *e)
{
    size_t       i;
    redisReply  *f, *k;

    ngx_str_null(&e->job);
    e->idle = 0;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NGX_DECLINED;
    }

    if (ngx_mam_rc_copy(pool, &e->id, r->element[0]) != NGX_OK) {
        return NGX_ERROR;
    }

    f = r->element[1];

    for (i = 0; i + 1 < f->elements; i += 2) {
        k = f->element[i];

        if (k->type == REDIS_REPLY_STRING
            && k->len == sizeof(MAM_JOB_JOB_ID) - 1
            && ngx_strncmp(k->str, MAM_JOB_JOB_ID, k->len) == 0
            && f->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return ngx_mam_rc_copy(pool, &e->job, f->element[i + 1]);
        }
    }

    return NGX_OK;
}


static void
ngx_mam_rc_unread_read(redisReply *reply, void *data)
{
    size_t                i;
    ngx_int_t             rc;
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_rc_entry_t   *e, entry;

    if (reply == NULL) {
        ngx_mam_rc_finish(run);
        return;
    }

    /* an error (NOGROUP: the stream is gone) leaves the set empty */
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        rc = ngx_mam_rc_entry(run->pool, reply->element[i], &entry);
        if (rc == NGX_ERROR) {
            ngx_mam_rc_finish(run);
            return;
        }

        if (rc == NGX_DECLINED || entry.job.len == 0) {
            continue;
        }

        e = ngx_array_push(&run->unread);
        if (e == NULL) {
            ngx_mam_rc_finish(run);
            return;
        }
        *e = entry;
    }

    if (reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= NGX_MAM_RECONCILE_MAX)
    {
        run->truncated = 1;
    }

    if (run->truncated) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: reconcile: more than %d entries pending or "
                      "unread; nothing is re-enqueued until fewer are",
                      NGX_MAM_RECONCILE_MAX);
    }

    ngx_qsort(run->unread.elts, run->unread.nelts,
              sizeof(ngx_mam_rc_entry_t), ngx_mam_rc_cmp);
    ngx_qsort(run->pending.elts, run->pending.nelts,
              sizeof(ngx_mam_rc_entry_t), ngx_mam_rc_cmp);

    ngx_mam_rc_next(run);
}


/* the entries not yet delivered to any consumer: after the last delivered
 * id read before XPENDING, so an entry delivered in between is in one of
 * the two sets at least */
static void
ngx_mam_rc_unread(ngx_mam_rc_run_t *run)
{
    const char           *argv[6];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    argv[0] = "XRANGE";
    argv[1] = MAM_STREAM_BUILD;
    argv[2] = ngx_mam_message(run->pool, "(%V", &run->last_delivered);
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = NGX_MAM_RECONCILE_MAX_S;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_unread_read, run,
                                   6, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


/* the fields of one pending entry (XRANGE id id), all of them asked at
 * once; an entry gone meanwhile carries no job */
static void
ngx_mam_rc_pending_entry(redisReply *reply, void *data)
{
    ngx_mam_rc_slot_t    *slot = data;
    ngx_mam_rc_run_t     *run = slot->run;
    ngx_mam_rc_entry_t   *e, entry;

    e = run->pending.elts;
    e = &e[slot->index];

    if (reply == NULL) {
        run->failed = 1;

    } else if (!run->failed && reply->type == REDIS_REPLY_ARRAY
               && reply->elements == 1)
    {
        switch (ngx_mam_rc_entry(run->pool, reply->element[0], &entry)) {
        case NGX_ERROR:
            run->failed = 1;
            break;
        case NGX_OK:
            e->job = entry.job;
            break;
        default:
            break;
        }
    }

    if (--run->waiting > 0) {
        return;
    }

    if (run->failed) {
        ngx_mam_rc_finish(run);
        return;
    }

    ngx_mam_rc_unread(run);
}


static void
ngx_mam_rc_pending_read(redisReply *reply, void *data)
{
    size_t                i;
    const char           *argv[4];
    redisReply           *r;
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_rc_slot_t    *slot;
    ngx_mam_rc_entry_t   *e;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL) {
        ngx_mam_rc_finish(run);
        return;
    }

    /* an error (NOGROUP: the stream is gone) leaves the set empty */
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        r = reply->element[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1
            || r->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        e = ngx_array_push(&run->pending);
        if (e == NULL || ngx_mam_rc_copy(run->pool, &e->id, r->element[0])
                         != NGX_OK)
        {
            ngx_mam_rc_finish(run);
            return;
        }
        ngx_str_null(&e->job);

        /* [id, consumer, idle ms, deliveries]; without the idle time the
         * entry counts as long delivered, as before */
        e->idle = r->elements >= 3
                  && r->element[2]->type == REDIS_REPLY_INTEGER
                  && r->element[2]->integer >= 0
                  ? (ngx_msec_t) r->element[2]->integer : NGX_MAX_INT32_VALUE;
    }

    if (reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= NGX_MAM_RECONCILE_MAX)
    {
        run->truncated = 1;
    }

    if (run->pending.nelts == 0) {
        ngx_mam_rc_unread(run);
        return;
    }

    /* one XRANGE per pending entry, all sent at once; each reply comes
     * through the event loop (never from inside the call), and the last
     * one goes on */
    e = run->pending.elts;
    slot = ngx_palloc(run->pool,
                      run->pending.nelts * sizeof(ngx_mam_rc_slot_t));
    if (slot == NULL) {
        ngx_mam_rc_finish(run);
        return;
    }

    for (i = 0; i < run->pending.nelts; i++) {
        slot[i].run = run;
        slot[i].index = i;

        argv[0] = "XRANGE";
        argv[1] = MAM_STREAM_BUILD;
        argv[2] = (const char *) e[i].id.data;
        argv[3] = (const char *) e[i].id.data;

        if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_pending_entry,
                                       &slot[i], 4, argv, NULL)
            != NGX_OK)
        {
            run->failed = 1;
            break;
        }

        run->waiting++;
    }

    if (run->waiting == 0) {
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
                ours = ngx_strcmp(v->str, MAM_STREAM_GROUP) == 0;

            } else if (ours && ngx_strcmp(k->str, "last-delivered-id") == 0) {
                if (ngx_mam_rc_copy(run->pool, &run->last_delivered, v)
                    != NGX_OK)
                {
                    ngx_mam_rc_finish(run);
                    return;
                }
            }
        }
    }

    argv[0] = "XPENDING";
    argv[1] = MAM_STREAM_BUILD;
    argv[2] = MAM_STREAM_GROUP;
    argv[3] = "-";
    argv[4] = "+";
    argv[5] = NGX_MAM_RECONCILE_MAX_S;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_pending_read, run,
                                   6, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


/* PostgreSQL's jobs first; then the stream: the group's state */
static void
ngx_mam_rc_jobs(PGresult *res, void *data)
{
    const char           *argv[3];
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    run->jobs = ngx_mam_pg_ok(res) && PQntuples(res) == 1
                ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0),
                             0, NULL)
                : NULL;

    if (!json_is_array(run->jobs)) {
        ngx_mam_rc_finish(run);
        return;
    }

    if (json_array_size(run->jobs) == 0) {
        ngx_mam_rc_finish(run);
        return;
    }

    argv[0] = "XINFO";
    argv[1] = "GROUPS";
    argv[2] = MAM_STREAM_BUILD;

    if (ngx_mam_redis_task_command(mcf->redis, ngx_mam_rc_groups, run, 3,
                                   argv, NULL)
        != NGX_OK)
    {
        ngx_mam_rc_finish(run);
    }
}


/* the group exists (from the stream's start, so nothing added before it
 * was made is skipped); then the jobs */
static void
ngx_mam_rc_group_made(redisReply *reply, void *data)
{
    ngx_mam_rc_run_t     *run = data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: reconcile: redis unavailable, next run retries");
        ngx_mam_rc_finish(run);
        return;
    }

    run->values[0] = ngx_mam_message(run->pool, "%T", mcf->preview_stall);
    run->values[1] = ngx_mam_message(run->pool, "%M", ngx_mam_rc_grace(mcf));

    if (ngx_mam_pg_task_query(mcf->pg, run->pool,
                              "SELECT mam_preview_active($1, $2)", 2,
                              run->values, ngx_mam_rc_jobs, run)
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
        || ngx_array_init(&run->pending, pool, 16, sizeof(ngx_mam_rc_entry_t))
           != NGX_OK
        || ngx_array_init(&run->unread, pool, 16, sizeof(ngx_mam_rc_entry_t))
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
    argv[2] = MAM_STREAM_BUILD;
    argv[3] = MAM_STREAM_GROUP;
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
