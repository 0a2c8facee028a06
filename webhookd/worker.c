/*
 * A worker (a thread with its own connections): reads mam:webhooks
 * through the consumer group, reclaiming with XAUTOCLAIM what a dead
 * consumer left pending; takes the delivery (mam_webhook_take: NULL when
 * another attempt already settled it), sends one attempt, records it
 * (mam_webhook_attempt: delivered, pending with the next retry's time, or
 * failed) and only then acknowledges the entry.  At SIGTERM an attempt in
 * flight is abandoned unacknowledged: its lease lapses and it is sent
 * again (deliveries are at least once; receivers tell repeats by the
 * event's id).
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh.h"

typedef struct {
    const wh_config_t  *cf;
    PGconn             *pg;
    redisContext       *redis;
} wh_worker_t;


/* an entry [id, [delivery, N]]: its stream id and the delivery's id */
static int
wh_worker_entry(redisReply *e, char *sid, size_t size, long long *id)
{
    char        *end;
    redisReply  *kv;

    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[0]->len >= size)
    {
        return -1;
    }
    memcpy(sid, e->element[0]->str, e->element[0]->len + 1);

    kv = e->element[1];
    *id = 0;
    if (kv->type == REDIS_REPLY_ARRAY && kv->elements == 2
        && kv->element[0]->type == REDIS_REPLY_STRING
        && strcmp(kv->element[0]->str, WH_FIELD) == 0
        && kv->element[1]->type == REDIS_REPLY_STRING)
    {
        *id = strtoll(kv->element[1]->str, &end, 10);
        if (*end != '\0' || *id <= 0) {
            *id = 0;
        }
    }
    return 0;                   /* a malformed entry: id 0, acknowledged */
}


/* 1 an entry, 0 none, -1 the connection is gone */
static int
wh_worker_next(wh_worker_t *w, char *sid, size_t size, long long *id)
{
    int          rc = 0;
    redisReply  *r, *s;

    r = redisCommand(w->redis, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 1",
                     WH_STREAM, WH_GROUP, w->cf->consumer,
                     w->cf->claim_idle_ms);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
        && r->element[1]->type == REDIS_REPLY_ARRAY
        && r->element[1]->elements > 0
        && wh_worker_entry(r->element[1]->element[0], sid, size, id) == 0)
    {
        freeReplyObject(r);
        return 1;
    }
    freeReplyObject(r);

    r = redisCommand(w->redis, "XREADGROUP GROUP %s %s COUNT 1 BLOCK 1000 "
                     "STREAMS %s >", WH_GROUP, w->cf->consumer, WH_STREAM);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: the stream was deleted; make it again */
        freeReplyObject(r);
        r = redisCommand(w->redis, "XGROUP CREATE %s %s 0 MKSTREAM",
                         WH_STREAM, WH_GROUP);
        freeReplyObject(r);
        return 0;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        s = r->element[0];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2
            && s->element[1]->type == REDIS_REPLY_ARRAY
            && s->element[1]->elements == 1
            && wh_worker_entry(s->element[1]->element[0], sid, size, id)
               == 0)
        {
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}


static int
wh_worker_ack(wh_worker_t *w, const char *sid)
{
    redisReply  *r;

    r = redisCommand(w->redis, "XACK %s %s %s", WH_STREAM, WH_GROUP, sid);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}


/* the delivery's attempt, as mam_webhook_take handed it: 1 taken (*taken
 * is its JSON), 0 nothing to do, -1 an error */
static int
wh_worker_take(wh_worker_t *w, long long id, json_t **taken)
{
    char         num[32], lease[16];
    json_t      *v;
    PGresult    *res;
    const char  *values[2];

    snprintf(num, sizeof(num), "%lld", id);
    snprintf(lease, sizeof(lease), "%d", w->cf->lease);
    values[0] = num;
    values[1] = lease;

    res = PQexecPrepared(w->pg, "wh_take", 2, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        wh_log("postgres: mam_webhook_take: %s", PQerrorMessage(w->pg));
        PQclear(res);
        return -1;
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return 0;
    }

    v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (!json_is_object(v)) {
        json_decref(v);
        return -1;
    }
    *taken = v;
    return 1;
}


static int
wh_worker_record(wh_worker_t *w, long long id, const wh_result_t *r,
    char *state, size_t size)
{
    char         num[32], status[16], window[16], backoff[16];
    PGresult    *res;
    const char  *values[6];

    snprintf(num, sizeof(num), "%lld", id);
    snprintf(status, sizeof(status), "%ld", r->status);
    snprintf(window, sizeof(window), "%d", w->cf->retry_window);
    snprintf(backoff, sizeof(backoff), "%d", w->cf->backoff_ms);
    values[0] = num;
    values[1] = r->status >= 100 && r->status <= 999 ? status : NULL;
    values[2] = r->error[0] ? r->error : NULL;
    values[3] = r->refused ? "true" : "false";
    values[4] = window;
    values[5] = backoff;

    res = PQexecPrepared(w->pg, "wh_attempt", 6, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        wh_log("postgres: mam_webhook_attempt: %s", PQerrorMessage(w->pg));
        PQclear(res);
        return -1;
    }
    snprintf(state, size, "%s", PQgetisnull(res, 0, 0)
                                ? "settled before" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}


/* one entry: 0 settled (acknowledge), -1 not (an error, or stopping) */
static int
wh_worker_work(wh_worker_t *w, long long id)
{
    int             rc;
    char            state[16];
    json_t         *v = NULL;
    wh_result_t     r;
    wh_delivery_t   d;

    rc = wh_worker_take(w, id, &v);
    if (rc <= 0) {
        return rc;
    }

    memset(&d, 0, sizeof(d));
    d.id = id;
    d.url = json_string_value(json_object_get(v, "url"));
    d.secret = json_string_value(json_object_get(v, "secret"));
    d.body = json_string_value(json_object_get(v, "body"));
    d.event = json_string_value(json_object_get(v, "event"));
    d.event_id = json_string_value(json_object_get(v, "event_id"));
    d.attempt = (int) json_integer_value(json_object_get(v, "attempt"));

    if (!d.url || !d.secret || !d.body || !d.event || !d.event_id) {
        json_decref(v);
        return -1;
    }

    if (wh_deliver(w->cf, &d, &r) != 0) {
        json_decref(v);
        return -1;                      /* stopping: sent again later */
    }

    rc = wh_worker_record(w, id, &r, state, sizeof(state));
    if (rc == 0) {
        /* the URL may hold a token of the receiver's: only its event */
        wh_log("delivery %lld (%s %s) attempt %d: %s%s%s", id, d.event,
               d.event_id, d.attempt, state, r.error[0] ? ": " : "",
               r.error);
    }
    json_decref(v);
    return rc;
}


static void
wh_worker_close(wh_worker_t *w)
{
    PQfinish(w->pg);
    redisFree(w->redis);
    w->pg = NULL;
    w->redis = NULL;
}


void *
wh_worker(void *arg)
{
    int           rc;
    char          sid[64];
    long long     id;
    wh_worker_t   w;

    memset(&w, 0, sizeof(w));
    w.cf = arg;

    while (!wh_stop) {
        if (w.pg == NULL && (w.pg = wh_pg_connect(w.cf)) == NULL) {
            sleep(1);
            continue;
        }
        if (w.redis == NULL && (w.redis = wh_redis_connect(w.cf)) == NULL) {
            sleep(1);
            continue;
        }

        rc = wh_worker_next(&w, sid, sizeof(sid), &id);
        if (rc < 0) {
            wh_log("redis connection lost; reconnecting");
            wh_worker_close(&w);
            continue;
        }
        if (rc == 0) {
            continue;
        }

        if (id == 0) {
            wh_log("malformed entry %s in %s: dropped", sid, WH_STREAM);
            wh_worker_ack(&w, sid);
            continue;
        }

        if (wh_worker_work(&w, id) == 0) {
            wh_worker_ack(&w, sid);
        } else if (!wh_stop && PQstatus(w.pg) != CONNECTION_OK) {
            wh_worker_close(&w);
        }
    }

    wh_worker_close(&w);
    return NULL;
}
