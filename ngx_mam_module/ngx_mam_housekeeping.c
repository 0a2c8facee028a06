/*
 * Housekeeping, in worker 0 only, every mam_housekeeping_interval:
 * staging objects not promoted within mam_staging_ttl are deleted (and
 * their uploads marked expired), and promotes whose request died between
 * the master file and the version row are settled from the file system:
 * master there with its size -> the version is recorded; otherwise the
 * intent is dropped.  One item at a time, one run at a time.
 *
 * Then retention: sessions (refresh tokens) expired for more than
 * mam_session_retention and audit rows older than mam_audit_retention are
 * deleted NGX_MAM_PURGE_BATCH rows per statement, each statement its own
 * transaction, again while a batch came back full: no long lock, and the
 * pool connection is free between batches.  A run that shortened the
 * audit log records so in it (one "audit_purge" row with the count).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_storage.h"


/* a promote still in its request is never older than this */
#define NGX_MAM_PROMOTE_STUCK  "60"

/* rows deleted by one retention statement */
#define NGX_MAM_PURGE_BATCH    1000


typedef enum {
    NGX_MAM_HK_PURGE_SESSIONS = 0,
    NGX_MAM_HK_PURGE_AUDIT,
    NGX_MAM_HK_PURGE_RECORD,
    NGX_MAM_HK_PURGE_DONE
} ngx_mam_hk_purge_e;


typedef struct {
    ngx_pool_t               *pool;
    json_t                   *work;
    json_t                   *item;
    size_t                    next_upload;
    size_t                    next_promotion;
    ngx_mam_hk_purge_e        purge;
    ngx_uint_t                purged;      /* rows, this phase */
    const char               *session_retention;
    const char               *audit_retention;
    ngx_mam_storage_op_t      op;
    const char               *values[2];
} ngx_mam_hk_run_t;


static ngx_event_t  ngx_mam_hk_event;


static void ngx_mam_hk_step(ngx_mam_hk_run_t *run);


static void
ngx_mam_hk_finish(ngx_mam_hk_run_t *run)
{
    ngx_mam_main_conf_t  *mcf;

    json_decref(run->work);
    ngx_destroy_pool(run->pool);

    mcf = ngx_mam_main_conf();

    ngx_mam_timer_again(&ngx_mam_hk_event, mcf->housekeeping_interval);
}


static void
ngx_mam_hk_sql_done(PGresult *res, void *data)
{
    ngx_mam_hk_run_t  *run = data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: housekeeping: PostgreSQL unavailable, run "
                      "stopped");
        ngx_mam_hk_finish(run);
        return;
    }

    ngx_mam_hk_step(run);
}


static void
ngx_mam_hk_sql(ngx_mam_hk_run_t *run, const char *sql, int n)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (ngx_mam_pg_task_query(mcf->pg, run->pool, sql, n, run->values,
                              ngx_mam_hk_sql_done, run)
        != NGX_OK)
    {
        ngx_mam_hk_finish(run);
    }
}


static void
ngx_mam_hk_storage(ngx_mam_hk_run_t *run, ngx_mam_storage_op_e op,
    const char *key, const char *upload_id, ngx_mam_task_done_pt done)
{
    ngx_memzero(&run->op, sizeof(ngx_mam_storage_op_t));
    run->op.op = op;
    run->op.key = key;
    run->op.data = run;

    if (upload_id) {
        ngx_cpystrn((u_char *) run->op.upload_id, (u_char *) upload_id,
                    sizeof(run->op.upload_id));
    }

    if (ngx_mam_storage_run_task(run->pool, ngx_cycle->log, &run->op, done)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "mam: housekeeping: cannot run storage task");
        ngx_mam_hk_finish(run);
    }
}


static const char *
ngx_mam_hk_field(ngx_mam_hk_run_t *run, const char *name)
{
    return json_string_value(json_object_get(run->item, name));
}


/* an expired upload's object is gone: mark it */
static void
ngx_mam_hk_upload_removed(void *data)
{
    ngx_mam_hk_run_t  *run = ((ngx_mam_storage_op_t *) data)->data;

    if (run->op.rc != MAM_STORAGE_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, run->op.err,
                      "mam: housekeeping: cannot remove \"%s\"", run->op.key);
        ngx_mam_hk_finish(run);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "mam: housekeeping: removed stale upload \"%s\"",
                  run->op.key);

    run->values[0] = ngx_mam_hk_field(run, "id");
    ngx_mam_hk_sql(run, "SELECT mam_upload_expire($1)", 1);
}


/* a stale upload's staging object */
static void
ngx_mam_hk_remove_upload(ngx_mam_hk_run_t *run)
{
    ngx_mam_hk_storage(run, NGX_MAM_STORAGE_REMOVE,
                       ngx_mam_hk_field(run, "staging_key"), NULL,
                       ngx_mam_hk_upload_removed);
}


/* a resumable upload's partial file or S3 multipart upload is gone (or
 * could not go: logged, the upload expires all the same) */
static void
ngx_mam_hk_leftovers_removed(void *data)
{
    ngx_mam_hk_run_t  *run = ((ngx_mam_storage_op_t *) data)->data;

    if (run->op.rc != MAM_STORAGE_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, run->op.err,
                      "mam: housekeeping: cannot remove what the resumable "
                      "upload \"%s\" left", run->op.key);
    }

    ngx_mam_hk_remove_upload(run);
}


/* the partial beside a local resumable upload, or its S3 multipart upload */
static ngx_uint_t
ngx_mam_hk_upload_leftovers(ngx_mam_hk_run_t *run)
{
    const char           *upload_id;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (!json_is_true(json_object_get(run->item, "resumable"))) {
        return 0;
    }

    upload_id = ngx_mam_hk_field(run, "s3_upload_id");

    if (mcf->s3 && upload_id == NULL) {
        return 0;
    }

    ngx_mam_hk_storage(run, mcf->s3 ? NGX_MAM_STORAGE_MULTIPART_ABORT
                                    : NGX_MAM_STORAGE_PARTIAL_REMOVE,
                       ngx_mam_hk_field(run, "staging_key"), upload_id,
                       ngx_mam_hk_leftovers_removed);
    return 1;
}


static void
ngx_mam_hk_staging_removed(void *data)
{
    ngx_mam_hk_run_t  *run = ((ngx_mam_storage_op_t *) data)->data;

    run->values[0] = ngx_mam_hk_field(run, "id");
    run->values[1] = NULL;
    ngx_mam_hk_sql(run, "SELECT mam_promote_finish($1, $2)", 2);
}


/* a stuck promote: is its master complete? */
static void
ngx_mam_hk_master_sized(void *data)
{
    json_int_t         expect;
    ngx_mam_hk_run_t  *run = ((ngx_mam_storage_op_t *) data)->data;

    expect = json_integer_value(json_object_get(run->item, "size"));

    if (run->op.rc == MAM_STORAGE_OK && run->op.size == (off_t) expect) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: housekeeping: recording the version of an "
                      "interrupted promote \"%s\"", run->op.key);
        ngx_mam_hk_storage(run, NGX_MAM_STORAGE_REMOVE,
                           ngx_mam_hk_field(run, "staging_key"), NULL,
                           ngx_mam_hk_staging_removed);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "mam: housekeeping: dropping an interrupted promote "
                  "\"%s\" (no complete master)", run->op.key);

    run->values[0] = ngx_mam_hk_field(run, "id");
    ngx_mam_hk_sql(run, "SELECT mam_promote_abort($1)", 1);
}


/* one retention batch deleted: again while full, else the next phase */
static void
ngx_mam_hk_purged(PGresult *res, void *data)
{
    ngx_int_t          n;
    ngx_mam_hk_run_t  *run = data;

    n = ngx_mam_pg_ok(res) && PQntuples(res) == 1
        ? ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                   PQgetlength(res, 0, 0))
        : NGX_ERROR;

    if (n == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: housekeeping: PostgreSQL unavailable, run "
                      "stopped");
        ngx_mam_hk_finish(run);
        return;
    }

    run->purged += n;

    if (n < NGX_MAM_PURGE_BATCH) {
        if (run->purged) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "mam: housekeeping: deleted %ui %s",
                          run->purged,
                          run->purge == NGX_MAM_HK_PURGE_SESSIONS
                          ? "expired sessions" : "old audit rows");
        }

        if (run->purge == NGX_MAM_HK_PURGE_SESSIONS) {
            run->purged = 0;
        }

        run->purge++;
    }

    ngx_mam_hk_step(run);
}


static void
ngx_mam_hk_purge(ngx_mam_hk_run_t *run, const char *sql,
    const char *retention)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    run->values[0] = retention;
    run->values[1] = ngx_value(NGX_MAM_PURGE_BATCH);

    if (ngx_mam_pg_task_query(mcf->pg, run->pool, sql, 2, run->values,
                              ngx_mam_hk_purged, run)
        != NGX_OK)
    {
        ngx_mam_hk_finish(run);
    }
}


/* after the uploads and promotes: the retention phases, in order */
static ngx_uint_t
ngx_mam_hk_retention(ngx_mam_hk_run_t *run)
{
    if (ngx_mam_shutting_down()) {
        return 0;
    }

    if (run->purge == NGX_MAM_HK_PURGE_SESSIONS) {
        if (run->session_retention) {
            ngx_mam_hk_purge(run, "SELECT mam_session_purge($1, $2)",
                             run->session_retention);
            return 1;
        }

        run->purge = NGX_MAM_HK_PURGE_AUDIT;
    }

    if (run->purge == NGX_MAM_HK_PURGE_AUDIT) {
        if (run->audit_retention) {
            ngx_mam_hk_purge(run, "SELECT mam_audit_purge($1, $2)",
                             run->audit_retention);
            return 1;
        }

        run->purge = NGX_MAM_HK_PURGE_RECORD;
    }

    if (run->purge == NGX_MAM_HK_PURGE_RECORD && run->purged) {
        run->purge = NGX_MAM_HK_PURGE_DONE;
        run->values[0] = run->audit_retention;
        run->values[1] = ngx_mam_message(run->pool, "%ui", run->purged);
        ngx_mam_hk_sql(run, "SELECT mam_audit_purged($1, $2)", 2);
        return 1;
    }

    return 0;
}


static void
ngx_mam_hk_step(ngx_mam_hk_run_t *run)
{
    json_t  *list;

    list = json_object_get(run->work, "uploads");
    if (run->next_upload < json_array_size(list)) {
        run->item = json_array_get(list, run->next_upload++);
        if (!ngx_mam_hk_upload_leftovers(run)) {
            ngx_mam_hk_remove_upload(run);
        }
        return;
    }

    list = json_object_get(run->work, "promotions");
    if (run->next_promotion < json_array_size(list)) {
        run->item = json_array_get(list, run->next_promotion++);
        ngx_mam_hk_storage(run, NGX_MAM_STORAGE_SIZE,
                           ngx_mam_hk_field(run, "master_key"), NULL,
                           ngx_mam_hk_master_sized);
        return;
    }

    if (ngx_mam_hk_retention(run)) {
        return;
    }

    ngx_mam_hk_finish(run);
}


static void
ngx_mam_hk_work_found(PGresult *res, void *data)
{
    ngx_mam_hk_run_t  *run = data;

    run->work = ngx_mam_pg_ok(res) && PQntuples(res) == 1
                ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0),
                             0, NULL)
                : NULL;

    if (run->work == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mam: housekeeping: PostgreSQL unavailable, next try "
                      "in one interval");
        ngx_mam_hk_finish(run);
        return;
    }

    ngx_mam_hk_step(run);
}


static void
ngx_mam_hk_handler(ngx_event_t *ev)
{
    ngx_pool_t           *pool;
    ngx_mam_hk_run_t     *run;
    ngx_mam_main_conf_t  *mcf;

    (void) ev;

    if (ngx_mam_shutting_down()) {
        return;
    }

    mcf = ngx_mam_main_conf();

    pool = ngx_create_pool(4096, ngx_cycle->log);
    run = pool ? ngx_pcalloc(pool, sizeof(ngx_mam_hk_run_t)) : NULL;
    if (run == NULL) {
        if (pool) {
            ngx_destroy_pool(pool);
        }
        ngx_add_timer(&ngx_mam_hk_event, mcf->housekeeping_interval);
        return;
    }

    run->pool = pool;
    run->values[0] = ngx_mam_message(pool, "%T", mcf->staging_ttl);
    run->values[1] = NGX_MAM_PROMOTE_STUCK;

    if (mcf->session_retention) {
        run->session_retention = ngx_mam_message(pool, "%T",
                                                 mcf->session_retention);
    }

    if (mcf->audit_retention) {
        run->audit_retention = ngx_mam_message(pool, "%T",
                                               mcf->audit_retention);
    }

    if (ngx_mam_pg_task_query(mcf->pg, pool,
                              "SELECT mam_housekeeping_work($1, $2)", 2,
                              run->values, ngx_mam_hk_work_found, run)
        != NGX_OK)
    {
        ngx_mam_hk_finish(run);
    }
}


ngx_int_t
ngx_mam_housekeeping_init(ngx_cycle_t *cycle, ngx_mam_main_conf_t *mcf)
{
    if (ngx_process != NGX_PROCESS_WORKER || ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_mam_timer_start(&ngx_mam_hk_event, ngx_mam_hk_handler, mcf,
                        mcf->housekeeping_interval);

    return NGX_OK;
}
