/*
 * The job stream, with hiredis' synchronous API (one connection per job
 * slot, used only by its own thread): consumer group reading, reclaiming
 * dead consumers' entries with XAUTOCLAIM, keeping the own pending entry
 * fresh, acknowledging, dead-lettering.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"

struct td_queue_s {
    redisContext       *rc;
    const td_config_t  *cf;
};

td_queue_t *
td_queue_connect(const td_config_t *cf)
{
    char         err[512];
    td_queue_t  *q;
    redisReply  *r;

    q = calloc(1, sizeof(td_queue_t));
    if (q == NULL) {
        return NULL;
    }
    q->cf = cf;
    q->rc = mam_redis_connect(&cf->redis, err, sizeof(err));
    if (q->rc == NULL) {
        td_log(NULL, "%s", err);
        td_queue_free(q);
        return NULL;
    }

    /* from the stream's start: nothing added before the group is lost */
    r = redisCommand(q->rc, "XGROUP CREATE %s %s 0 MKSTREAM",
                     MAM_STREAM_BUILD, MAM_STREAM_GROUP);
    freeReplyObject(r);

    return q;
}

void
td_queue_free(td_queue_t *q)
{
    if (q) {
        if (q->rc) {
            redisFree(q->rc);
        }
        free(q);
    }
}

/* the fields of one [id, [k, v, ...]] entry; mam_job_set() leaves a field
 * that does not fit empty, so the entry fails mam_job_valid() instead of
 * being cut short */
static int
td_queue_entry(redisReply *e, td_job_t *job)
{
    size_t       i;
    redisReply  *kv, *k, *v;

    memset(job, 0, sizeof(*job));
    mam_job_init(&job->f);
    job->deliveries = 1;

    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[0]->len == 0 || e->element[0]->len >= sizeof(job->id))
    {
        return -1;
    }
    memcpy(job->id, e->element[0]->str, e->element[0]->len + 1);

    kv = e->element[1];
    for (i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        k = kv->element[i];
        v = kv->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) {
            (void) mam_job_set(&job->f, k->str, k->len, v->str, v->len);
        }
    }

    return 0;
}

/* how many times the group has handed this entry out, this time included */
static int
td_queue_deliveries(td_queue_t *q, const char *id)
{
    int          n = 1;
    redisReply  *r, *e;

    r = redisCommand(q->rc, "XPENDING %s %s %s %s 1", MAM_STREAM_BUILD,
                     MAM_STREAM_GROUP, id, id);
    if (r == NULL) {
        return -1;
    }
    /* [[id, consumer, idle, deliveries]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        e = r->element[0];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 4
            && e->element[3]->type == REDIS_REPLY_INTEGER)
        {
            n = (int) e->element[3]->integer;
        }
    }
    freeReplyObject(r);
    return n;
}

/* an entry a dead consumer left pending longer than claim_idle_ms */
static int
td_queue_claim(td_queue_t *q, td_job_t *job)
{
    int          found = 0;
    redisReply  *r;

    r = redisCommand(q->rc, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 1",
                     MAM_STREAM_BUILD, MAM_STREAM_GROUP, q->cf->consumer,
                     q->cf->claim_idle_ms);
    if (r == NULL) {
        return -1;
    }

    /* [next-id, [entries...], [deleted ids]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
        && r->element[1]->type == REDIS_REPLY_ARRAY
        && r->element[1]->elements > 0
        && td_queue_entry(r->element[1]->element[0], job) == 0)
    {
        found = 1;
    }
    freeReplyObject(r);

    if (found) {
        job->deliveries = td_queue_deliveries(q, job->id);
        if (job->deliveries < 0) {
            return -1;
        }
    }
    return found;
}

int
td_queue_next(td_queue_t *q, int block_ms, td_job_t *job)
{
    int          rc;
    redisReply  *r, *streams;

    rc = td_queue_claim(q, job);
    if (rc != 0) {
        if (rc == 1) {
            td_log(job->f.job_id, "claimed entry %s of a dead consumer",
                   job->id);
        }
        return rc;
    }

    r = redisCommand(q->rc, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d "
                     "STREAMS %s >", MAM_STREAM_GROUP, q->cf->consumer,
                     block_ms, MAM_STREAM_BUILD);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: the stream was deleted; make it again */
        freeReplyObject(r);
        r = redisCommand(q->rc, "XGROUP CREATE %s %s 0 MKSTREAM",
                         MAM_STREAM_BUILD, MAM_STREAM_GROUP);
        freeReplyObject(r);
        return 0;
    }

    rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        streams = r->element[0];
        if (streams->type == REDIS_REPLY_ARRAY && streams->elements == 2
            && streams->element[1]->type == REDIS_REPLY_ARRAY
            && streams->element[1]->elements == 1
            && td_queue_entry(streams->element[1]->element[0], job) == 0)
        {
            rc = 1;
        }
    }

    freeReplyObject(r);
    return rc;
}

/* XCLAIM to ourselves with min-idle 0 resets the entry's idle time, so
 * another instance's XAUTOCLAIM never takes a job that is being worked */
int
td_queue_touch(td_queue_t *q, const td_job_t *job)
{
    redisReply  *r;

    r = redisCommand(q->rc, "XCLAIM %s %s %s 0 %s JUSTID", MAM_STREAM_BUILD,
                     MAM_STREAM_GROUP, q->cf->consumer, job->id);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int
td_queue_ack(td_queue_t *q, const td_job_t *job)
{
    redisReply  *r;

    r = redisCommand(q->rc, "XACK %s %s %s", MAM_STREAM_BUILD,
                     MAM_STREAM_GROUP, job->id);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int
td_queue_dead(td_queue_t *q, const td_job_t *job, const char *error)
{
    char         maxlen[16], num[16];
    const char  *argv[6 + MAM_JOB_ARGC + 2];
    redisReply  *r;

    /* about the newest dead_maxlen entries are kept ("~": whole nodes) */
    snprintf(maxlen, sizeof(maxlen), "%d", q->cf->dead_maxlen);
    argv[0] = "XADD";
    argv[1] = MAM_STREAM_DEAD;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = maxlen;
    argv[5] = "*";
    mam_job_argv(&job->f, num, argv + 6);
    argv[6 + MAM_JOB_ARGC] = MAM_JOB_ERROR;
    argv[6 + MAM_JOB_ARGC + 1] = error;

    r = redisCommandArgv(q->rc, (int) (sizeof(argv) / sizeof(argv[0])), argv,
                         NULL);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}
