/* The daemons' blocking Redis connections (mam_redis.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mam_conf.h"
#include "mam_key.h"
#include "mam_redis.h"


static redisContext *
mam_redis_dial(const char *addr)
{
    char            host[256];
    const char     *colon;
    struct timeval  tv = { 5, 0 };

    if (strncmp(addr, "unix:", 5) == 0) {
        return redisConnectUnixWithTimeout(addr + 5, tv);
    }

    colon = strrchr(addr, ':');
    if (colon == NULL || (size_t) (colon - addr) >= sizeof(host)) {
        return NULL;
    }
    memcpy(host, addr, (size_t) (colon - addr));
    host[colon - addr] = '\0';

    return redisConnectWithTimeout(host, atoi(colon + 1), tv);
}


int
mam_redis_conf_set(mam_redis_conf_t *rc, const char *k, const char *v,
    char *err, size_t len)
{
    char  kerr[256];

    if (strcmp(k, "redis") == 0) {
        return mam_conf_copy(rc->addr, sizeof(rc->addr), v);
    }
    if (strcmp(k, "redis_user") == 0) {
        return mam_conf_copy(rc->user, sizeof(rc->user), v);
    }
    if (strcmp(k, "redis_password_file") != 0) {
        return 1;
    }
    if (mam_secret_load(v, (unsigned char *) rc->password,
                        sizeof(rc->password), 1, &rc->password_len, kerr,
                        sizeof(kerr))
        != 0)
    {
        snprintf(err, len, "redis_password_file: %s", kerr);
        return -2;
    }
    return 0;
}


redisContext *
mam_redis_connect(const mam_redis_conf_t *conf, char *err, size_t len)
{
    size_t         passlen = conf->password_len;
    const char    *addr = conf->addr, *user = conf->user;
    const char    *pass = conf->password;
    redisContext  *rc;
    redisReply    *r;

    rc = mam_redis_dial(addr);
    if (rc == NULL || rc->err) {
        snprintf(err, len, "redis %s: %s", addr,
                 rc ? rc->errstr : "cannot connect");
        redisFree(rc);
        return NULL;
    }

    if (passlen == 0) {
        return rc;
    }

    r = user[0]
        ? redisCommand(rc, "AUTH %s %b", user, pass, passlen)
        : redisCommand(rc, "AUTH %b", pass, passlen);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, len, "redis %s: AUTH failed%s%s: %s", addr,
                 user[0] ? " as user " : "", user,
                 r ? r->str : rc->errstr);
        freeReplyObject(r);
        redisFree(rc);
        return NULL;
    }
    freeReplyObject(r);

    return rc;
}
