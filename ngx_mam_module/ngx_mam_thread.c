/*
 * Blocking work (Argon2, rename, fsync, copies, S3 calls) for a request,
 * run on the nginx thread pool configured for its kind (hashing, files,
 * S3), so that one kind flooding its pool leaves the others alone.  As in nginx's copy filter, the request is
 * marked blocked while the task runs, so its pool (and the task) outlive a
 * client that disconnects meanwhile.
 *
 * A task cannot be cancelled, so it gets no timeout; it holds a timer that
 * only re-arms itself, because nginx lets a worker that shuts down (reload)
 * exit as soon as no such timer is left: the task's request would be
 * dropped unanswered.
 */

#include "ngx_mam_module.h"

#include <sys/resource.h>
#include <sys/syscall.h>


#define NGX_MAM_THREAD_HOLD  60000


typedef struct {
    ngx_http_request_t      *r;
    ngx_uint_t               nice;
    ngx_mam_thread_work_pt   work;
    ngx_mam_thread_done_pt   done;
    void                    *data;
    ngx_event_t              hold;
} ngx_mam_thread_ctx_t;


/*
 * mam_hash_nice: a hash thread yields the CPU to nginx and file work, so a
 * login storm slows logins, not uploads.  Linux keeps a nice value per
 * thread; only raising it needs no privilege, hence once per thread and
 * only on a pool that does nothing else (checked at configuration).
 */
static void
ngx_mam_thread_nice(ngx_uint_t nice, ngx_log_t *log)
{
    int                    prio;
    pid_t                  tid;
    static __thread int    niced;

    if (nice == 0 || niced) {
        return;
    }

    niced = 1;
    tid = (pid_t) syscall(SYS_gettid);

    errno = 0;
    prio = getpriority(PRIO_PROCESS, (id_t) tid);

    if ((prio == -1 && errno != 0)
        || setpriority(PRIO_PROCESS, (id_t) tid, prio + (int) nice) == -1)
    {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "mam: cannot renice hash thread %d", (int) tid);
    }
}


/* on a pool thread: only system calls and thread-safe libraries here */
static void
ngx_mam_thread_work(void *data, ngx_log_t *log)
{
    ngx_mam_thread_ctx_t  *tc = data;

    ngx_mam_thread_nice(tc->nice, log);

    tc->work(tc->data);
}


static void
ngx_mam_thread_hold_handler(ngx_event_t *ev)
{
    ngx_add_timer(ev, NGX_MAM_THREAD_HOLD);
}


static void
ngx_mam_thread_event_handler(ngx_event_t *ev)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_mam_thread_ctx_t  *tc;

    tc = ev->data;
    r = tc->r;
    c = r->connection;

    if (tc->hold.timer_set) {
        ngx_del_timer(&tc->hold);
    }

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "mam: thread task done%s", c->error ? ", client gone" : "");

    r->main->blocked--;
    r->aio = 0;

    if (c->error) {
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);

    } else {
        tc->done(r, tc->data);
    }

    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_mam_thread_run(ngx_http_request_t *r, ngx_uint_t kind,
    ngx_mam_thread_work_pt work, ngx_mam_thread_done_pt done, void *data)
{
    ngx_thread_task_t     *task;
    ngx_mam_main_conf_t   *mcf;
    ngx_mam_thread_ctx_t  *tc;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->thread_pools[kind] == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mam: thread pool \"%V\" not found",
                      &mcf->thread_pool_names[kind]);
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_mam_thread_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    tc = task->ctx;
    tc->r = r;
    tc->nice = (kind == NGX_MAM_THREAD_HASH) ? mcf->hash_nice : 0;
    tc->work = work;
    tc->done = done;
    tc->data = data;

    task->handler = ngx_mam_thread_work;
    task->event.handler = ngx_mam_thread_event_handler;
    task->event.data = tc;

    /* nginx refuses a task only when the pool's max_queue is full */
    if (ngx_thread_task_post(mcf->thread_pools[kind], task) != NGX_OK) {
        return NGX_BUSY;
    }

    r->main->blocked++;
    r->aio = 1;

    tc->hold.handler = ngx_mam_thread_hold_handler;
    tc->hold.data = tc;
    tc->hold.log = r->connection->log;
    ngx_add_timer(&tc->hold, NGX_MAM_THREAD_HOLD);

    return NGX_OK;
}


/* --- blocking work of the module itself (housekeeping) ------------------ */

typedef struct {
    ngx_mam_thread_work_pt   work;
    ngx_mam_task_done_pt     done;
    void                    *data;
} ngx_mam_thread_task_ctx_t;


static void
ngx_mam_thread_task_work(void *data, ngx_log_t *log)
{
    ngx_mam_thread_task_ctx_t  *tc = data;

    (void) log;

    tc->work(tc->data);
}


static void
ngx_mam_thread_task_event_handler(ngx_event_t *ev)
{
    ngx_mam_thread_task_ctx_t  *tc = ev->data;

    tc->done(tc->data);
}


ngx_int_t
ngx_mam_thread_task(ngx_pool_t *mem, ngx_uint_t kind,
    ngx_mam_thread_work_pt work, ngx_mam_task_done_pt done, void *data)
{
    ngx_thread_task_t          *task;
    ngx_mam_main_conf_t        *mcf;
    ngx_mam_thread_task_ctx_t  *tc;

    mcf = ngx_mam_main_conf();

    if (mcf->thread_pools[kind] == NULL) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(mem, sizeof(ngx_mam_thread_task_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    tc = task->ctx;
    tc->work = work;
    tc->done = done;
    tc->data = data;

    task->handler = ngx_mam_thread_task_work;
    task->event.handler = ngx_mam_thread_task_event_handler;
    task->event.data = tc;

    return ngx_thread_task_post(mcf->thread_pools[kind], task);
}


/* the answer when ngx_mam_thread_run() did not start the task: a full
 * queue (NGX_BUSY) is 503 with Retry-After, anything else 500 */
ngx_int_t
ngx_mam_thread_refused(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_str_t  retry = ngx_string("1");

    if (rc != NGX_BUSY) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    (void) ngx_mam_add_header(r, "Retry-After", &retry);

    return ngx_mam_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "server busy; try again shortly");
}
