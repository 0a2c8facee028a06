/*
 * Storage for the module: an operation on keys run by libmam's store
 * (mam_store.h) on the thread pool, never in a worker: local files under
 * mam_storage_root on mam_thread_pool_files, S3 (mam_s3_endpoint) on
 * mam_thread_pool_s3.  The event loop only checks the keys and keeps the
 * caller's state; the task maps keys to paths or buckets itself.
 */

#ifndef _NGX_MAM_STORAGE_H_INCLUDED_
#define _NGX_MAM_STORAGE_H_INCLUDED_


#include "ngx_mam_module.h"

#include "mam_store.h"


typedef enum {
    NGX_MAM_STORAGE_PUT_FILE = 0,   /* file -> key, exclusively, 0644 */
    NGX_MAM_STORAGE_PROMOTE,        /* from_key -> key, write-once 0444,
                                       then from_key removed */
    NGX_MAM_STORAGE_REMOVE,         /* key */
    NGX_MAM_STORAGE_REMOVE_TREE,    /* key prefix (a folder) */
    NGX_MAM_STORAGE_SIZE,           /* key -> size (-1: absent) */

    /* resumable uploads on local storage (mam_partial.h): key is the
     * upload's staging key, its partial lives beside it */
    NGX_MAM_STORAGE_PARTIAL_CREATE, /* -> size (EXISTS: its length) */
    NGX_MAM_STORAGE_PARTIAL_OFFSET, /* -> size */
    NGX_MAM_STORAGE_PARTIAL_APPEND, /* file at offset, placed at total */
    NGX_MAM_STORAGE_PARTIAL_REMOVE,
    NGX_MAM_STORAGE_PARTIAL_LOCK,   /* at offset, never waited for: fd
                                       (LOCKED, CONFLICT with size) */

    /* resumable uploads on S3: the staging key's multipart upload */
    NGX_MAM_STORAGE_MULTIPART_CREATE,   /* content_type -> upload_id */
    NGX_MAM_STORAGE_MULTIPART_LIST,     /* upload_id, total, part_size:
                                           -> parts */
    NGX_MAM_STORAGE_MULTIPART_COMPLETE, /* upload_id, total, part_size:
                                           CONFLICT while parts lack */
    NGX_MAM_STORAGE_MULTIPART_ABORT     /* upload_id */
} ngx_mam_storage_op_e;


typedef struct {
    ngx_mam_storage_op_e      op;
    const char               *file;      /* PUT_FILE: a local file */
    const char               *from_key;  /* PROMOTE */
    const char               *key;
    void                     *data;      /* the caller's, for done() */
    off_t                     offset;    /* PARTIAL_APPEND, _LOCK */
    ngx_flag_t                locked;    /* fd holds the partial's lock */
    int                       fd;        /* PARTIAL_LOCK's result; the
                                            caller closes it */
    off_t                     total;
    mam_checksum_t            sum;
    off_t                     part_size; /* MULTIPART_COMPLETE */
    const char               *content_type;
    char                      upload_id[512];
    mam_s3_part_t            *parts;     /* MULTIPART_LIST, _COMPLETE */
    size_t                    nparts;
    size_t                    max_parts; /* room in parts: total/part_size */

    /* results */
    int                       rc;        /* MAM_STORAGE_* */
    ngx_err_t                 err;       /* errno when MAM_STORAGE_ERROR */
    off_t                     size;

    /* set by ngx_mam_storage_run*() */
    const mam_store_t        *store;
} ngx_mam_storage_op_t;


/* for a request: done(r, op) runs in the event loop afterwards (op->data
 * carries the caller's state) */
ngx_int_t ngx_mam_storage_run(ngx_http_request_t *r,
    ngx_mam_storage_op_t *op, ngx_mam_thread_done_pt done);

/* for the module's own work: done(op) afterwards; op lives in mem */
ngx_int_t ngx_mam_storage_run_task(ngx_pool_t *mem, ngx_log_t *log,
    ngx_mam_storage_op_t *op, ngx_mam_task_done_pt done);


#endif /* _NGX_MAM_STORAGE_H_INCLUDED_ */
