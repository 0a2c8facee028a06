/*
 * Storage operations on the thread pool: each runs one libmam store call
 * (mam_store.h), which picks the local or S3 backend and maps the keys to
 * paths or buckets.  The event loop checks the keys first, so a bad key
 * is refused before a task is queued, and allocates what the task fills.
 */

#include "ngx_mam_storage.h"


/* tus keeps its partial beside the staging file: local storage only */
static int
ngx_mam_storage_partial(ngx_mam_storage_op_t *op)
{
    char               path[PATH_MAX], partial[PATH_MAX];
    const mam_store_t  *st = op->store;

    if (st->kind != MAM_STORE_LOCAL) {
        errno = ENOTSUP;
        return MAM_STORAGE_ERROR;
    }

    if (mam_store_path(st, op->key, path, sizeof(path)) != 0
        || mam_partial_path(partial, sizeof(partial), path) != 0)
    {
        errno = EINVAL;
        return MAM_STORAGE_ERROR;
    }

    switch (op->op) {

    case NGX_MAM_STORAGE_PARTIAL_CREATE:
        return mam_partial_create(partial, &op->size);

    case NGX_MAM_STORAGE_PARTIAL_OFFSET:
        return mam_partial_offset(partial, &op->size);

    case NGX_MAM_STORAGE_PARTIAL_APPEND:
        return op->locked
               ? mam_partial_append_locked(op->fd, partial, op->file,
                                           op->offset, op->total, &op->sum,
                                           path, &op->size)
               : mam_partial_append(partial, op->file, op->offset, op->total,
                                    &op->sum, path, &op->size);

    case NGX_MAM_STORAGE_PARTIAL_LOCK:
        return mam_partial_lock(partial, op->offset, &op->fd, &op->size);

    case NGX_MAM_STORAGE_PARTIAL_REMOVE:
        return mam_partial_remove(partial);

    default:
        errno = EINVAL;
        return MAM_STORAGE_ERROR;
    }
}


/* on a pool thread: libmam only, no pool, no log */
static void
ngx_mam_storage_work(void *data)
{
    ngx_mam_storage_op_t  *op = data;
    const mam_store_t     *st = op->store;

    op->err = 0;
    errno = 0;

    switch (op->op) {

    case NGX_MAM_STORAGE_PUT_FILE:
        /* on S3 uploads go from the browser straight to the bucket: the
         * PUT location never places one there */
        if (st->kind != MAM_STORE_LOCAL) {
            errno = ENOTSUP;
            op->rc = MAM_STORAGE_ERROR;
            break;
        }
        op->rc = mam_store_put(st, op->file, op->key, NULL, 0);
        break;

    case NGX_MAM_STORAGE_PROMOTE:
        op->rc = mam_store_promote(st, op->from_key, op->key);
        break;

    case NGX_MAM_STORAGE_REMOVE:
        op->rc = mam_store_remove(st, op->key);
        break;

    case NGX_MAM_STORAGE_REMOVE_TREE:
        op->rc = mam_store_remove_folder(st, op->key);
        break;

    case NGX_MAM_STORAGE_SIZE:
        op->rc = mam_store_size(st, op->key, &op->size);
        break;

    case NGX_MAM_STORAGE_PARTIAL_CREATE:
    case NGX_MAM_STORAGE_PARTIAL_OFFSET:
    case NGX_MAM_STORAGE_PARTIAL_APPEND:
    case NGX_MAM_STORAGE_PARTIAL_LOCK:
    case NGX_MAM_STORAGE_PARTIAL_REMOVE:
        op->rc = ngx_mam_storage_partial(op);
        break;

    case NGX_MAM_STORAGE_MULTIPART_CREATE:
        op->rc = mam_store_multipart_create(st, op->key, op->content_type,
                                            op->upload_id,
                                            sizeof(op->upload_id));
        break;

    case NGX_MAM_STORAGE_MULTIPART_LIST:
        op->rc = mam_store_multipart_list(st, op->key, op->upload_id,
                                          op->parts, op->max_parts,
                                          &op->nparts);
        break;

    case NGX_MAM_STORAGE_MULTIPART_COMPLETE:
        op->rc = mam_store_multipart_complete(st, op->key, op->upload_id,
                                              op->total, op->part_size,
                                              op->parts, op->max_parts,
                                              &op->nparts, &op->size);
        break;

    case NGX_MAM_STORAGE_MULTIPART_ABORT:
        op->rc = mam_store_multipart_abort(st, op->key, op->upload_id);
        break;

    default:
        errno = EINVAL;
        op->rc = MAM_STORAGE_ERROR;
    }

    if (op->rc == MAM_STORAGE_ERROR) {
        op->err = errno ? errno : EIO;
    }
}


/* a key the store can map: valid, and in an area (S3: with a bucket) */
static ngx_flag_t
ngx_mam_storage_key_ok(const mam_store_t *st, const char *key)
{
    if (key == NULL || !mam_key_valid(key, ngx_strlen(key))) {
        return 0;
    }

    return st->kind == MAM_STORE_S3 ? mam_store_bucket(st, key) != NULL
                                    : st->root[0] == '/';
}


/* in the event loop: the keys checked and the parts' room allocated from
 * the pool, so the task needs neither */
static ngx_int_t
ngx_mam_storage_prepare(ngx_pool_t *pool, ngx_log_t *log,
    ngx_mam_storage_op_t *op)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_mam_main_conf();
    op->store = mcf->store;

    if (op->op >= NGX_MAM_STORAGE_MULTIPART_CREATE
        && op->store->kind != MAM_STORE_S3)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "mam: multipart uploads need S3 storage");
        return NGX_ERROR;
    }

    if (!ngx_mam_storage_key_ok(op->store, op->key)
        || (op->op == NGX_MAM_STORAGE_PROMOTE
            && !ngx_mam_storage_key_ok(op->store, op->from_key)))
    {
        ngx_log_error(NGX_LOG_ERR, log, 0, "mam: invalid storage key \"%s\"",
                      op->key ? op->key : "");
        return NGX_ERROR;
    }

    if (op->op == NGX_MAM_STORAGE_MULTIPART_LIST
        || op->op == NGX_MAM_STORAGE_MULTIPART_COMPLETE)
    {
        /* room for the parts the upload can have, not S3's 10000: a part
         * more than that fails the listing */
        op->max_parts = op->part_size > 0
                        ? (op->total + op->part_size - 1) / op->part_size
                        : 0;
        op->max_parts = ngx_max(op->max_parts, 1);
        op->max_parts = ngx_min(op->max_parts, MAM_STORE_MAX_PARTS);
        op->parts = ngx_palloc(pool, op->max_parts * sizeof(mam_s3_part_t));
        if (op->parts == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_mam_storage_pool(const ngx_mam_storage_op_t *op)
{
    return op->store->kind == MAM_STORE_S3 ? NGX_MAM_THREAD_S3
                                           : NGX_MAM_THREAD_FILES;
}


ngx_int_t
ngx_mam_storage_run(ngx_http_request_t *r, ngx_mam_storage_op_t *op,
    ngx_mam_thread_done_pt done)
{
    if (ngx_mam_storage_prepare(r->pool, r->connection->log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: storage task %d on \"%s\" (%s)", (int) op->op,
                   op->key, op->store->kind == MAM_STORE_S3 ? "s3" : "local");

    return ngx_mam_thread_run(r, ngx_mam_storage_pool(op),
                              ngx_mam_storage_work, done, op);
}


ngx_int_t
ngx_mam_storage_run_task(ngx_pool_t *mem, ngx_log_t *log,
    ngx_mam_storage_op_t *op, ngx_mam_task_done_pt done)
{
    if (ngx_mam_storage_prepare(mem, log, op) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_mam_thread_task(mem, ngx_mam_storage_pool(op),
                               ngx_mam_storage_work, done, op);
}
