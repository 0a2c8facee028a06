/*
 * webhookd's connections: PostgreSQL (libpq, blocking: each thread owns
 * one) with the daemon's statements prepared once per connection, and
 * Redis (hiredis' synchronous API, one per thread) with the consumer
 * group made.
 */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh.h"

/* the statements: static text, parameters only */
static const struct {
    const char  *name;
    const char  *sql;
    int          nparams;
} wh_statements[] = {
    { "wh_due", "SELECT mam_webhook_due($1::integer, $2::integer)", 2 },
    { "wh_take", "SELECT mam_webhook_take($1::bigint, $2::integer)", 2 },
    { "wh_attempt", "SELECT mam_webhook_attempt($1::bigint, $2::integer,"
                    " $3::text, $4::boolean, $5::integer, $6::integer)", 6 },
    { "wh_purge", "SELECT mam_webhook_purge($1::integer, 1000)", 1 },
    { "wh_listen", "LISTEN " WH_CHANNEL, 0 },
};


PGconn *
wh_pg_connect(const wh_config_t *cf)
{
    size_t     i;
    PGconn    *pg;
    PGresult  *res;

    pg = PQconnectdb(cf->postgres);
    if (PQstatus(pg) != CONNECTION_OK) {
        wh_log("postgres: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }

    for (i = 0; i < sizeof(wh_statements) / sizeof(wh_statements[0]); i++) {
        res = PQprepare(pg, wh_statements[i].name, wh_statements[i].sql,
                        wh_statements[i].nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            wh_log("postgres: preparing %s: %s", wh_statements[i].name,
                   PQerrorMessage(pg));
            PQclear(res);
            PQfinish(pg);
            return NULL;
        }
        PQclear(res);
    }

    return pg;
}


redisContext *
wh_redis_connect(const wh_config_t *cf)
{
    char             err[512];
    redisContext    *rc;
    redisReply      *r;
    struct timeval   tv = { 5, 0 };

    rc = mam_redis_connect(&cf->redis, err, sizeof(err));
    if (rc == NULL) {
        wh_log("%s", err);
        return NULL;
    }
    /* a command's wait is bounded (XREADGROUP blocks 1 s) */
    redisSetTimeout(rc, tv);

    /* from the stream's start: nothing added before the group is lost */
    r = redisCommand(rc, "XGROUP CREATE %s %s 0 MKSTREAM", WH_STREAM,
                     WH_GROUP);
    freeReplyObject(r);

    return rc;
}
