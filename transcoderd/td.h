/*
 * transcoderd: pulls preview jobs from the Redis stream previews:build and
 * renders the HLS ladder of pipeline.md with libav*.  Shared declarations.
 */
#ifndef TD_H
#define TD_H

#include <signal.h>
#include <stddef.h>

#include "mam_contract.h"
#include "mam_redis.h"
#include "mam_store.h"
#include "input.h"

typedef enum {
    TD_ENC_AUTO = 0,      /* try h264_nvenc, else libx264 */
    TD_ENC_NVENC,         /* NVDEC + scale_cuda + NVENC, libx264 on failure */
    TD_ENC_CUDA_DECODE,   /* NVDEC + scale_cuda + libx264 (no NVENC) */
    TD_ENC_X264           /* CPU only */
} td_encoder_mode_t;

typedef struct {
    char               config_path[1024];
    mam_redis_conf_t   redis;               /* redis, redis_user, ... */
    int                dead_maxlen;         /* previews:dead MAXLEN ~ */
    char               callback_url[1024];
    char               callback_key[512];
    size_t             callback_key_len;
    char               storage_root[1024];
    char               log_file[1024];
    char               consumer[256];
    char               preset[32];
    td_encoder_mode_t  encoder;
    int                jobs;
    int                attempts;
    int                backoff_ms;          /* first retry delay */
    int                claim_idle_ms;       /* XAUTOCLAIM min idle */
    int                threads;             /* 0: the cores */

    /* the storage (mam_store.h): storage_root's folders, or S3 when
     * s3_endpoint is set (s3_on while reading the file); its part_size is
     * s3_multipart_threshold, from which an object goes up in parts */
    int                s3_on;
    mam_store_t        store;
    char               work_dir[1024];      /* local scratch for S3 jobs */
    char               metrics_listen[64];  /* IP:port, or "" for none */

    /* hostile masters (input.h, render.h) */
    td_limits_t        limits;
    int                stall_timeout;       /* s without the child advancing */
    int                job_timeout;         /* s for one attempt */
    int                max_deliveries;      /* then previews:dead */
    long               memory_limit;        /* MiB of address space, 0 off */
    char               cuda_cache_dir[1024];  /* compiled CUDA kernels */
} td_config_t;

typedef struct {
    char       id[64];                      /* stream entry id */
    mam_job_t  f;                           /* the entry's fields */
    int        deliveries;                  /* by the group, this one too */
} td_job_t;

extern volatile sig_atomic_t  td_stop;
extern volatile sig_atomic_t  td_reload;

/* config.c */
int td_config_load(const char *path, td_config_t *cf, char *err, size_t len);

/* metrics.c */
int td_metrics_start(const char *listen_on, char *err, size_t len);
void td_metrics_stop(void);
void td_metrics_job_started(void);
void td_metrics_attempt_failed(void);
void td_metrics_job_finished(const char *result, double seconds);

/* log.c */
void td_log_open(const char *file);
int td_log_fd(void);
void td_log(const char *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* callback.c: 0 accepted (2xx), 1 refused for good (4xx), -1 transient */
int td_callback(const td_config_t *cf, const char *json);

/* storage.c: where a job reads its master and renders, and how the
 * rendered folder is published, on either backend */
int td_storage_paths(const td_config_t *cf, const mam_job_t *job, char *input,
    size_t input_size, char *prefix, size_t prefix_size, char *tmp,
    size_t tmp_size);
int td_storage_fetch(const td_config_t *cf, const char *key, const char *path,
    char *err, size_t len);
int td_storage_publish(const td_config_t *cf, const char *dir,
    const char *prefix, char *err, size_t len);
/* the store's notes (an object sent in parts) into the daemon's log */
void td_storage_note(const char *message);

/* queue.c: a hiredis connection per job slot */
typedef struct td_queue_s  td_queue_t;

td_queue_t *td_queue_connect(const td_config_t *cf);
void td_queue_free(td_queue_t *q);
/* 1 a job, 0 none within block_ms, -1 error */
int td_queue_next(td_queue_t *q, int block_ms, td_job_t *job);
int td_queue_touch(td_queue_t *q, const td_job_t *job);
int td_queue_ack(td_queue_t *q, const td_job_t *job);
int td_queue_dead(td_queue_t *q, const td_job_t *job, const char *error);

#endif
