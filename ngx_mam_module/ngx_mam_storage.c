/*
 * The local storage backend: keys are paths under mam_storage_root, and
 * every file operation runs on the thread pool.
 */

#include "ngx_mam_storage.h"


/* on a pool thread */
static void
ngx_mam_storage_work(void *data)
{
    off_t                  size;
    ngx_mam_storage_op_t  *op = data;

    op->err = 0;

    switch (op->op) {

    case NGX_MAM_STORAGE_PUT_FILE:
        op->rc = mam_local_place(op->file, op->path, 0644);
        break;

    case NGX_MAM_STORAGE_PROMOTE:
        op->rc = mam_local_place(op->from_path, op->path, 0444);
        if (op->rc == MAM_STORAGE_OK) {
            /* the master is durable; the staging name may go */
            (void) mam_local_remove(op->from_path);
        }
        break;

    case NGX_MAM_STORAGE_REMOVE:
        op->rc = mam_local_remove(op->path);
        break;

    case NGX_MAM_STORAGE_REMOVE_TREE:
        op->rc = mam_local_remove_tree(op->path);
        break;

    case NGX_MAM_STORAGE_SIZE:
        size = mam_local_size(op->path);
        op->size = size;
        op->rc = MAM_STORAGE_OK;
        break;

    default:
        op->rc = MAM_STORAGE_ERROR;
    }

    if (op->rc == MAM_STORAGE_ERROR) {
        op->err = ngx_errno;
    }
}


static char *
ngx_mam_storage_path(ngx_pool_t *pool, const char *key)
{
    char                 *path;
    size_t                len;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();

    if (key == NULL) {
        return NULL;
    }

    len = mcf->storage_root.len + 1 + ngx_strlen(key) + 1;
    path = ngx_pnalloc(pool, len);
    if (path == NULL) {
        return NULL;
    }

    if (ngx_strncmp(mcf->storage_root.data, "/", 1) != 0
        || mam_local_path(path, len, (char *) mcf->storage_root.data, key)
           != 0)
    {
        return NULL;
    }

    return path;
}


/* keys become paths here, in the event loop, where the pool may be used */
static ngx_int_t
ngx_mam_storage_prepare(ngx_pool_t *pool, ngx_log_t *log,
    ngx_mam_storage_op_t *op)
{
    op->path = ngx_mam_storage_path(pool, op->key);
    if (op->path == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "mam: invalid storage key \"%s\"",
                      op->key ? op->key : "");
        return NGX_ERROR;
    }

    if (op->op == NGX_MAM_STORAGE_PROMOTE) {
        op->from_path = ngx_mam_storage_path(pool, op->from_key);
        if (op->from_path == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_storage_run(ngx_http_request_t *r, ngx_mam_storage_op_t *op,
    ngx_mam_thread_done_pt done)
{
    if (ngx_mam_storage_prepare(r->pool, r->connection->log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_mam_thread_run(r, ngx_mam_storage_work, done, op);
}


ngx_int_t
ngx_mam_storage_run_task(ngx_pool_t *mem, ngx_log_t *log,
    ngx_mam_storage_op_t *op, ngx_mam_task_done_pt done)
{
    if (ngx_mam_storage_prepare(mem, log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_mam_thread_task(mem, ngx_mam_storage_work, done, op);
}
