/*
 * The relay (the main thread): leases the deliveries that are due
 * (mam_webhook_due) and adds their ids to mam:webhooks for the workers.
 * It wakes when a transaction that wrote an event commits (LISTEN
 * mam_webhooks: the NOTIFY of mam_webhook_emit) and every second for the
 * retries that came due; an id whose XADD failed is handed out again when
 * its lease lapses.  Once an hour it purges the events older than
 * retention_days that nothing waits on.
 */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh.h"

#define WH_PURGE_EVERY  3600            /* s */

typedef struct {
    const wh_config_t  *cf;
    PGconn             *pg;
    redisContext       *redis;
    time_t              purged_at;
} wh_relay_t;


static void
wh_relay_close(wh_relay_t *rl)
{
    PQfinish(rl->pg);
    redisFree(rl->redis);
    rl->pg = NULL;
    rl->redis = NULL;
}


static int
wh_relay_open(wh_relay_t *rl)
{
    PGresult  *res;

    if (rl->pg == NULL) {
        rl->pg = wh_pg_connect(rl->cf);
        if (rl->pg == NULL) {
            return -1;
        }
        res = PQexecPrepared(rl->pg, "wh_listen", 0, NULL, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            wh_log("postgres: LISTEN: %s", PQerrorMessage(rl->pg));
            PQclear(res);
            wh_relay_close(rl);
            return -1;
        }
        PQclear(res);
    }

    if (rl->redis == NULL) {
        rl->redis = wh_redis_connect(rl->cf);
        if (rl->redis == NULL) {
            return -1;
        }
    }

    return 0;
}


/* one XADD: 0, or -1 (the connection is gone) */
static int
wh_relay_add(wh_relay_t *rl, const char *id)
{
    char         maxlen[16];
    const char  *argv[8];
    redisReply  *r;

    snprintf(maxlen, sizeof(maxlen), "%d", rl->cf->stream_maxlen);
    argv[0] = "XADD";
    argv[1] = WH_STREAM;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = maxlen;
    argv[5] = "*";
    argv[6] = WH_FIELD;
    argv[7] = id;

    r = redisCommandArgv(rl->redis, 8, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        wh_log("redis: XADD %s: %s", WH_STREAM,
               r ? r->str : rl->redis->errstr);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}


/* a batch of due deliveries into the stream: how many, or -1 */
static int
wh_relay_turn(wh_relay_t *rl)
{
    int          i, n;
    char         limit[16], lease[16];
    const char  *values[2];
    PGresult    *res;

    snprintf(limit, sizeof(limit), "%d", rl->cf->batch);
    snprintf(lease, sizeof(lease), "%d", rl->cf->lease);
    values[0] = limit;
    values[1] = lease;

    res = PQexecPrepared(rl->pg, "wh_due", 2, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        wh_log("postgres: mam_webhook_due: %s", PQerrorMessage(rl->pg));
        PQclear(res);
        return -1;
    }

    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        if (wh_relay_add(rl, PQgetvalue(res, i, 0)) != 0) {
            PQclear(res);
            return -1;
        }
    }
    PQclear(res);

    return n;
}


static void
wh_relay_purge(wh_relay_t *rl)
{
    char         days[16];
    const char  *values[1];
    PGresult    *res;

    if (time(NULL) - rl->purged_at < WH_PURGE_EVERY) {
        return;
    }
    rl->purged_at = time(NULL);

    snprintf(days, sizeof(days), "%d", rl->cf->retention_days);
    values[0] = days;
    res = PQexecPrepared(rl->pg, "wh_purge", 1, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK
        && atoi(PQgetvalue(res, 0, 0)) > 0)
    {
        wh_log("purged %s event(s) older than %d days",
               PQgetvalue(res, 0, 0), rl->cf->retention_days);
    }
    PQclear(res);
}


/* until a NOTIFY or a second passed: 0, or -1 (the connection is gone) */
static int
wh_relay_wait(wh_relay_t *rl)
{
    PGnotify       *nf;
    struct pollfd   p;

    p.fd = PQsocket(rl->pg);
    p.events = POLLIN;
    p.revents = 0;

    if (poll(&p, 1, 1000) < 0 && !wh_stop) {
        return 0;                   /* a signal: look again */
    }

    if (PQconsumeInput(rl->pg) == 0) {
        wh_log("postgres: %s", PQerrorMessage(rl->pg));
        return -1;
    }
    while ((nf = PQnotifies(rl->pg)) != NULL) {
        PQfreemem(nf);
    }
    return 0;
}


void
wh_relay(const wh_config_t *cf)
{
    int         n;
    wh_relay_t  rl;

    memset(&rl, 0, sizeof(rl));
    rl.cf = cf;

    while (!wh_stop) {
        if (wh_relay_open(&rl) != 0) {
            wh_relay_close(&rl);
            sleep(1);
            continue;
        }

        /* a full batch: more may be due at once */
        do {
            n = wh_relay_turn(&rl);
        } while (n == cf->batch && !wh_stop);

        if (n < 0) {
            wh_relay_close(&rl);
            sleep(1);
            continue;
        }

        wh_relay_purge(&rl);

        if (wh_relay_wait(&rl) != 0) {
            wh_relay_close(&rl);
        }
    }

    wh_relay_close(&rl);
}
