/*
 * transcoderd.conf: "key = value" lines, '#' comments (libmam/mam_conf.c).
 * Unknown keys and bad values are errors, so a typo never silently falls
 * back to a default.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "mam_conf.h"
#include "mam_key.h"

/* demuxers that read other files or URLs than the master: never allowed */
static const char  *td_refused_formats[] = {
    "hls", "applehttp", "dash", "concat", "image2", "subfile", "tee", "sdp",
    "rtsp", "rtp", "imf", "webm_dash_manifest", "data", NULL
};

static int
td_formats(td_config_t *cf, const char *v, char *err, size_t len)
{
    int          i;
    size_t       n;
    const char  *p, *e;

    if (*v == '\0' || strlen(v) >= sizeof(cf->limits.formats)) {
        return -1;
    }
    for (p = v; *p; p = *e ? e + 1 : e) {
        e = strchr(p, ',');
        e = e ? e : p + strlen(p);
        n = (size_t) (e - p);
        if (n == 0) {
            return -1;
        }
        for (i = 0; td_refused_formats[i]; i++) {
            if (strlen(td_refused_formats[i]) == n
                && strncmp(p, td_refused_formats[i], n) == 0)
            {
                snprintf(err, len, "input_formats: \"%s\" opens other files "
                         "than the master and is never allowed",
                         td_refused_formats[i]);
                return -2;
            }
        }
        while (p < e) {
            if (!isalnum((unsigned char) *p) && *p != '_') {
                return -1;
            }
            p++;
        }
    }
    strcpy(cf->limits.formats, v);
    return 0;
}

static int
td_config_limits(td_config_t *cf, const char *k, const char *v, char *err,
    size_t len)
{
    int  n;

    if (strcmp(k, "input_formats") == 0) {
        return td_formats(cf, v, err, len);
    }
    if (strcmp(k, "max_frame") == 0) {
        return td_limits_parse_frame(&cf->limits, v);
    }
    if (strcmp(k, "max_duration") == 0) {
        return mam_conf_int(v, 1, 30 * 86400, &cf->limits.max_duration);
    }
    if (strcmp(k, "max_streams") == 0) {
        return mam_conf_int(v, 1, 1000, &cf->limits.max_streams);
    }
    if (strcmp(k, "max_frame_rate") == 0) {
        return mam_conf_int(v, 1, 1000, &cf->limits.max_frame_rate);
    }
    if (strcmp(k, "probe_size") == 0) {
        if (mam_conf_int(v, 2048, 100 * 1000 * 1000, &n) != 0) {
            return -1;
        }
        cf->limits.probe_size = n;
        return 0;
    }
    if (strcmp(k, "analyze_duration") == 0) {
        if (mam_conf_int(v, 1, 120, &n) != 0) {
            return -1;
        }
        cf->limits.analyze_us = (int64_t) n * 1000000;
        return 0;
    }
    if (strcmp(k, "stall_timeout") == 0) {
        return mam_conf_int(v, 1, 3600, &cf->stall_timeout);
    }
    if (strcmp(k, "job_timeout") == 0) {
        return mam_conf_int(v, 5, 7 * 86400, &cf->job_timeout);
    }
    if (strcmp(k, "max_deliveries") == 0) {
        return mam_conf_int(v, 1, 100, &cf->max_deliveries);
    }
    if (strcmp(k, "cuda_cache_dir") == 0) {
        return v[0] == '/' ? mam_conf_copy(cf->cuda_cache_dir,
                                     sizeof(cf->cuda_cache_dir), v) : -1;
    }
    if (strcmp(k, "memory_limit") == 0) {
        if (mam_conf_int(v, 0, 1024 * 1024, &n) != 0 || (n > 0 && n < 256)) {
            return -1;
        }
        cf->memory_limit = n;
        return 0;
    }

    snprintf(err, len, "unknown setting \"%s\"", k);
    return -2;
}

static int
td_config_set(void *data, const char *k, const char *v, char *err,
    size_t len)
{
    int           rc;
    char          kerr[256];
    td_config_t  *cf = data;

    rc = mam_redis_conf_set(&cf->redis, k, v, err, len);
    if (rc != 1) {
        return rc;
    }
    if (strcmp(k, "dead_maxlen") == 0) {
        return mam_conf_int(v, 100, 1000000000, &cf->dead_maxlen);
    }
    if (strcmp(k, "callback_url") == 0) {
        return mam_conf_copy(cf->callback_url, sizeof(cf->callback_url), v);
    }
    if (strcmp(k, "callback_key_file") == 0) {
        if (mam_key_load(v, (unsigned char *) cf->callback_key,
                         sizeof(cf->callback_key), &cf->callback_key_len,
                         kerr, sizeof(kerr)) != 0)
        {
            snprintf(err, len, "callback_key_file: %s", kerr);
            return -2;
        }
        return 0;
    }
    if (strcmp(k, "storage_root") == 0) {
        return mam_conf_copy(cf->storage_root, sizeof(cf->storage_root), v);
    }
    if (strcmp(k, "log_file") == 0) {
        return mam_conf_copy(cf->log_file, sizeof(cf->log_file), v);
    }
    if (strcmp(k, "consumer") == 0) {
        return mam_conf_copy(cf->consumer, sizeof(cf->consumer), v);
    }
    if (strcmp(k, "preset") == 0) {
        return mam_conf_copy(cf->preset, sizeof(cf->preset), v);
    }
    if (strcmp(k, "jobs") == 0) {
        return mam_conf_int(v, 1, 64, &cf->jobs);
    }
    if (strcmp(k, "attempts") == 0) {
        return mam_conf_int(v, 1, 20, &cf->attempts);
    }
    if (strcmp(k, "backoff_ms") == 0) {
        return mam_conf_int(v, 1, 600000, &cf->backoff_ms);
    }
    if (strcmp(k, "claim_idle_ms") == 0) {
        return mam_conf_int(v, 100, 86400000, &cf->claim_idle_ms);
    }
    if (strcmp(k, "threads") == 0) {
        return mam_conf_int(v, 0, 256, &cf->threads);
    }
    if (strcmp(k, "s3_endpoint") == 0) {
        cf->s3_on = 1;
        return mam_s3_set_endpoint(&cf->store.s3, v) == 0 ? 0 : -1;
    }
    if (strcmp(k, "s3_region") == 0) {
        return mam_conf_copy(cf->store.s3.region, sizeof(cf->store.s3.region),
                       v);
    }
    if (strcmp(k, "s3_path_style") == 0) {
        cf->store.s3.path_style = strcmp(v, "on") == 0;
        return strcmp(v, "on") == 0 || strcmp(v, "off") == 0 ? 0 : -1;
    }
    if (strcmp(k, "s3_credentials_file") == 0) {
        if (mam_s3_load_credentials(&cf->store.s3, v, kerr, sizeof(kerr))
            != 0)
        {
            snprintf(err, len, "s3_credentials_file: %s", kerr);
            return -2;
        }
        return 0;
    }
    if (strcmp(k, "s3_sse") == 0) {
        /* AES256 | aws:kms [KEY_ID]; AES256 when not given */
        return mam_s3_set_sse(&cf->store.s3, v) == 0 ? 0 : -1;
    }
    if (strcmp(k, "s3_buckets") == 0) {
        return sscanf(v, "%63s %63s %63s", cf->store.bucket[0],
                      cf->store.bucket[1], cf->store.bucket[2]) == 3 ? 0 : -1;
    }
    /* deadlines of every S3 call, as the module's mam_s3_timeout and
     * mam_s3_low_speed_*: seconds, bytes/s, seconds */
    if (strcmp(k, "s3_timeout") == 0) {
        int  sec;

        if (mam_conf_int(v, 1, 3600, &sec) != 0) {
            return -1;
        }
        cf->store.s3.timeout_ms = sec * 1000L;
        return 0;
    }
    if (strcmp(k, "s3_low_speed_limit") == 0) {
        int  rate;

        if (mam_conf_int(v, 1, 1024 * 1024 * 1024, &rate) != 0) {
            return -1;
        }
        cf->store.s3.low_speed_limit = rate;
        return 0;
    }
    if (strcmp(k, "s3_low_speed_time") == 0) {
        int  sec;

        if (mam_conf_int(v, 1, 3600, &sec) != 0) {
            return -1;
        }
        cf->store.s3.low_speed_time = sec;
        return 0;
    }
    if (strcmp(k, "s3_multipart_threshold") == 0) {
        int  mb;

        if (mam_conf_int(v, 5, 5 * 1024, &mb) != 0) {
            return -1;
        }
        cf->store.part_size = (off_t) mb * 1024 * 1024;
        return 0;
    }
    if (strcmp(k, "s3_multipart_threshold_kb") == 0) {
        int  kb;

        /* tests: parts are 5 MiB at least on S3, any size on s3rver */
        if (mam_conf_int(v, 1, 5 * 1024 * 1024, &kb) != 0) {
            return -1;
        }
        cf->store.part_size = (off_t) kb * 1024;
        return 0;
    }
    if (strcmp(k, "work_dir") == 0) {
        return mam_conf_copy(cf->work_dir, sizeof(cf->work_dir), v);
    }
    if (strcmp(k, "metrics_listen") == 0) {
        return mam_conf_copy(cf->metrics_listen, sizeof(cf->metrics_listen), v);
    }
    if (strcmp(k, "encoder") == 0) {
        if (strcmp(v, "auto") == 0) {
            cf->encoder = TD_ENC_AUTO;
        } else if (strcmp(v, "nvenc") == 0) {
            cf->encoder = TD_ENC_NVENC;
        } else if (strcmp(v, "cuda-decode") == 0) {
            cf->encoder = TD_ENC_CUDA_DECODE;
        } else if (strcmp(v, "libx264") == 0) {
            cf->encoder = TD_ENC_X264;
        } else {
            return -1;
        }
        return 0;
    }

    return td_config_limits(cf, k, v, err, len);
}

int
td_config_load(const char *path, td_config_t *cf, char *err, size_t len)
{
    char  host[200];

    memset(cf, 0, sizeof(*cf));
    mam_conf_copy(cf->config_path, sizeof(cf->config_path), path);
    strcpy(cf->preset, "veryfast");
    cf->jobs = 1;
    cf->attempts = 3;
    cf->backoff_ms = 2000;
    cf->claim_idle_ms = 60000;
    cf->encoder = TD_ENC_AUTO;
    cf->store.part_size = (off_t) 16 * 1024 * 1024;
    td_limits_default(&cf->limits);
    cf->stall_timeout = 120;
    cf->job_timeout = 12 * 3600;
    cf->max_deliveries = 5;
    cf->dead_maxlen = 10000;
    cf->memory_limit = 16384;
    strcpy(cf->cuda_cache_dir, "/var/cache/mam/cuda");

    if (mam_conf_read(path, td_config_set, cf, err, len) != 0) {
        return -1;
    }

    if (cf->redis.addr[0] == '\0' || cf->callback_url[0] == '\0'
        || cf->callback_key_len == 0
        || (cf->storage_root[0] == '\0' && !cf->s3_on))
    {
        snprintf(err, len, "%s: redis, callback_url, callback_key_file and "
                 "storage_root (or s3_endpoint) are required", path);
        return -1;
    }

    if (cf->s3_on) {
        if (!cf->store.s3.access_key[0]
            || mam_store_init_s3(&cf->store, cf->store.bucket[0],
                                 cf->store.bucket[1], cf->store.bucket[2])
               != 0)
        {
            snprintf(err, len, "%s: s3_endpoint needs s3_credentials_file "
                     "and s3_buckets", path);
            return -1;
        }
        if (!cf->store.s3.region[0]) {
            strcpy(cf->store.s3.region, "us-east-1");
        }
        if (!cf->work_dir[0]) {
            strcpy(cf->work_dir, "/var/tmp");
        }

    } else if (mam_store_init_local(&cf->store, cf->storage_root) != 0) {
        snprintf(err, len, "%s: storage_root must be an absolute path", path);
        return -1;
    }

    cf->store.note = td_storage_note;

    if (cf->consumer[0] == '\0') {
        gethostname(host, sizeof(host));
        host[sizeof(host) - 1] = '\0';
        snprintf(cf->consumer, sizeof(cf->consumer), "%s-%ld", host,
                 (long) getpid());
    }

    return 0;
}
