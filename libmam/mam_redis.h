/*
 * The daemons' blocking Redis connections (transcoderd, webhookd): the
 * address as the configuration files give it, and AUTH.
 */
#ifndef MAM_REDIS_H
#define MAM_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

/* the settings redis, redis_user and redis_password_file */
typedef struct {
    char    addr[512];              /* unix:/path or host:port */
    char    user[256];              /* ACL user, or "" */
    char    password[1024];         /* AUTH unless password_len is 0 */
    size_t  password_len;
} mam_redis_conf_t;

/* one setting of a configuration file (mam_conf.h's setter's answers),
 * or 1 when key is none of these */
int mam_redis_conf_set(mam_redis_conf_t *rc, const char *key,
    const char *value, char *err, size_t len);

/*
 * A connection to rc->addr (5 s to connect), authenticated when it has a
 * password (as its user when it has one); NULL with err ("redis ADDR:
 * why", "redis ADDR: AUTH failed as user U: why").  The password travels
 * as an argument, never in err.
 */
redisContext *mam_redis_connect(const mam_redis_conf_t *rc, char *err,
    size_t len);

#endif
