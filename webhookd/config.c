/*
 * webhookd.conf (README, "Webhooks"): "key = value" lines read by
 * libmam/mam_conf.c.  Unknown keys and bad values are errors.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wh.h"
#include "mam_conf.h"


/* allow_targets: CIDRs separated by commas or spaces ("" none) */
static int
wh_config_allow(wh_config_t *cf, const char *v, char *err, size_t len)
{
    size_t       n;
    const char  *p = v;

    cf->nallow = 0;
    while (*p) {
        n = strcspn(p, ", \t");
        if (n > 0) {
            if (cf->nallow == MAM_NET_ALLOW_MAX) {
                snprintf(err, len, "allow_targets: at most %d CIDRs",
                         MAM_NET_ALLOW_MAX);
                return -2;
            }
            if (mam_cidr_parse(p, n, &cf->allow[cf->nallow]) != 0) {
                snprintf(err, len, "allow_targets: \"%.*s\" is no CIDR",
                         (int) (n > 64 ? 64 : n), p);
                return -2;
            }
            cf->nallow++;
        }
        p += n;
        p += strspn(p, ", \t");
    }
    return 0;
}


/* the settings that are a number in a range */
static const struct {
    const char  *key;
    size_t       offset;
    int          lo, hi;
} wh_config_ints[] = {
    { "workers", offsetof(wh_config_t, workers), 1, 64 },
    { "timeout", offsetof(wh_config_t, timeout), 1, 60 },
    { "connect_timeout", offsetof(wh_config_t, connect_timeout), 1, 60 },
    { "retry_window", offsetof(wh_config_t, retry_window), 1, 30 * 86400 },
    { "backoff_ms", offsetof(wh_config_t, backoff_ms), 100, 3600000 },
    { "lease", offsetof(wh_config_t, lease), 10, 3600 },
    { "claim_idle_ms", offsetof(wh_config_t, claim_idle_ms), 1000, 3600000 },
    { "batch", offsetof(wh_config_t, batch), 1, 1000 },
    { "stream_maxlen", offsetof(wh_config_t, stream_maxlen), 1000,
      100000000 },
    { "retention_days", offsetof(wh_config_t, retention_days), 1, 3650 },
};


static int
wh_config_set(void *data, const char *k, const char *v, char *err,
    size_t len)
{
    int           rc;
    size_t        i;
    wh_config_t  *cf = data;

    for (i = 0; i < sizeof(wh_config_ints) / sizeof(wh_config_ints[0]); i++) {
        if (strcmp(k, wh_config_ints[i].key) == 0) {
            return mam_conf_int(v, wh_config_ints[i].lo, wh_config_ints[i].hi,
                                (int *) ((char *) cf
                                         + wh_config_ints[i].offset));
        }
    }

    rc = mam_redis_conf_set(&cf->redis, k, v, err, len);
    if (rc != 1) {
        return rc;
    }
    if (strcmp(k, "postgres") == 0) {
        return mam_conf_copy(cf->postgres, sizeof(cf->postgres), v);
    }
    if (strcmp(k, "consumer") == 0) {
        return mam_conf_copy(cf->consumer, sizeof(cf->consumer), v);
    }
    if (strcmp(k, "log_file") == 0) {
        return mam_conf_copy(cf->log_file, sizeof(cf->log_file), v);
    }
    if (strcmp(k, "allow_targets") == 0) {
        return wh_config_allow(cf, v, err, len);
    }

    snprintf(err, len, "unknown setting \"%s\"", k);
    return -2;
}


int
wh_config_load(const char *path, wh_config_t *cf, char *err, size_t len)
{
    char  host[200];

    memset(cf, 0, sizeof(*cf));
    mam_conf_copy(cf->config_path, sizeof(cf->config_path), path);
    cf->workers = 4;
    cf->timeout = 10;
    cf->connect_timeout = 5;
    cf->retry_window = 86400;
    cf->backoff_ms = 10000;
    cf->lease = 120;
    cf->claim_idle_ms = 60000;
    cf->batch = 100;
    cf->stream_maxlen = 100000;
    cf->retention_days = 30;

    if (mam_conf_read(path, wh_config_set, cf, err, len) != 0) {
        return -1;
    }

    if (cf->postgres[0] == '\0' || cf->redis.addr[0] == '\0') {
        snprintf(err, len, "%s: postgres and redis are required", path);
        return -1;
    }
    if (cf->lease <= cf->timeout + cf->connect_timeout) {
        snprintf(err, len, "%s: lease must be longer than timeout and "
                 "connect_timeout together", path);
        return -1;
    }

    if (cf->consumer[0] == '\0') {
        gethostname(host, sizeof(host));
        host[sizeof(host) - 1] = '\0';
        snprintf(cf->consumer, sizeof(cf->consumer), "%s-%ld", host,
                 (long) getpid());
    }

    return 0;
}
