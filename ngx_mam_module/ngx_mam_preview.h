/*
 * Preview jobs: the stream that carries them and the channel that
 * announces their changes (pipeline.md).
 */

#ifndef _NGX_MAM_PREVIEW_H_INCLUDED_
#define _NGX_MAM_PREVIEW_H_INCLUDED_


#include "ngx_mam_module.h"
#include "mam_contract.h"


/* XADD stream MAXLEN ~ N * and the entry's fields */
#define NGX_MAM_PREVIEW_ARGC     (6 + MAM_JOB_ARGC)


typedef void (*ngx_mam_preview_done_pt)(ngx_http_request_t *r, void *data);


/*
 * Publishes event, then XADDs entry (a job's stream fields) and records the
 * entry's id; done(r, data) afterwards whatever happened, because the job
 * is safe in PostgreSQL and reconciliation enqueues what did not make it.
 */
void ngx_mam_preview_dispatch(ngx_http_request_t *r, json_t *entry,
    json_t *event, ngx_mam_preview_done_pt done, void *data);

void ngx_mam_preview_publish(ngx_http_request_t *r, json_t *event);
void ngx_mam_publish(ngx_http_request_t *r, const char *channel,
    json_t *event);
/* a SQL function's "notify" on mam:notify (ngx_mam_notifications.c) */
void ngx_mam_notify_publish(ngx_http_request_t *r, json_t *v);

/* the NGX_MAM_PREVIEW_ARGC arguments of XADD for an entry (trimming the
 * stream); strings live in pool.  NGX_DECLINED when the entry is not one
 * transcoderd would take (mam_job_valid), NGX_ERROR without memory */
ngx_int_t ngx_mam_preview_entry_argv(ngx_pool_t *pool, json_t *entry,
    const char **argv);

/* the entry's job_id for a log line, "(none)" when it has none */
const char *ngx_mam_preview_job_id(json_t *entry);


#endif /* _NGX_MAM_PREVIEW_H_INCLUDED_ */
