/*
 * webhookd: delivers the webhooks of schema/functions/webhooks.sql (issue
 * 22).  Shared declarations.
 *
 * PostgreSQL holds every delivery and when it is due; the relay (the main
 * thread) leases due deliveries and adds their ids to the Redis stream
 * mam:webhooks, which the workers of every webhookd read through the
 * consumer group "webhookd"; a worker sends one attempt and records it.
 */
#ifndef WH_H
#define WH_H

#include <signal.h>
#include <stddef.h>

#include "mam_net.h"
#include "mam_redis.h"

#define WH_STREAM             "mam:webhooks"
#define WH_GROUP              "webhookd"
#define WH_FIELD              "delivery"           /* the entry's one field */
#define WH_CHANNEL            "mam_webhooks"       /* PostgreSQL NOTIFY */

typedef struct {
    char        config_path[1024];
    char        postgres[1024];       /* libpq conninfo */
    mam_redis_conf_t  redis;
    char        consumer[256];
    char        log_file[1024];
    int         workers;              /* delivery threads */
    int         timeout;              /* s, one attempt, all of it */
    int         connect_timeout;      /* s */
    int         retry_window;         /* s after the event, then failed */
    int         backoff_ms;           /* the first retry's delay */
    int         lease;                /* s a handed-out delivery is ours */
    int         claim_idle_ms;        /* XAUTOCLAIM min idle */
    int         batch;                /* deliveries the relay leases a turn */
    int         stream_maxlen;        /* mam:webhooks MAXLEN ~ */
    int         retention_days;       /* events kept after they are done */
    mam_cidr_t  allow[MAM_NET_ALLOW_MAX];   /* targets allowed inside */
    size_t      nallow;
} wh_config_t;

/* a delivery a worker took (mam_webhook_take) */
typedef struct {
    long long    id;
    const char  *url;
    const char  *secret;
    const char  *body;
    const char  *event;
    const char  *event_id;
    int          attempt;
} wh_delivery_t;

/* an attempt's outcome */
typedef struct {
    long        status;               /* HTTP status, 0 for none */
    int         refused;              /* the target's address: for good */
    char        error[400];
} wh_result_t;

extern volatile sig_atomic_t  wh_stop;

/* config.c */
int wh_config_load(const char *path, wh_config_t *cf, char *err, size_t len);

/* log.c */
void wh_log_open(const char *file);
void wh_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* deliver.c: one attempt; 0 done (r filled), -1 abandoned (stopping) */
int wh_deliver(const wh_config_t *cf, const wh_delivery_t *d,
    wh_result_t *r);

/* store.c: a Redis connection, the group made; NULL (logged) on failure */
redisContext *wh_redis_connect(const wh_config_t *cf);

/* store.c: a PostgreSQL connection, the statements prepared */
struct pg_conn;
struct pg_conn *wh_pg_connect(const wh_config_t *cf);

/* relay.c: the main thread's loop until wh_stop */
void wh_relay(const wh_config_t *cf);

/* worker.c */
void *wh_worker(void *arg);

#endif
