/*
 * transcoderd: job slots (threads) that each read previews:build through
 * the consumer group, render a job into a temporary folder, publish it
 * with one rename, report through the signed callback and acknowledge only
 * then.  Transient failures are retried with exponential backoff and
 * jitter; the last one goes to previews:dead.  SIGTERM abandons the
 * current jobs unacknowledged (another instance or the restart reclaims
 * them) and exits; SIGHUP re-reads the configuration and reopens the log.
 *
 *   transcoderd -c /etc/mam/transcoderd.conf [-t]
 *   transcoderd -r MASTER OUTDIR [-e libx264|cuda-decode|nvenc|auto]
 *       renders one file and prints its metadata (benchmarks, debugging)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libavutil/log.h>
#ifdef TD_SYSTEMD
#include <systemd/sd-daemon.h>
#else
/* built without libsystemd: no readiness notification (Type=simple) */
static int
sd_notify(int unset, const char *state)
{
    (void) unset;
    (void) state;
    return 0;
}

static int
sd_notifyf(int unset, const char *format, ...)
{
    (void) unset;
    (void) format;
    return 0;
}
#endif

#include "td.h"
#include "progressive.h"
#include "render.h"
#include "sandbox.h"
#include "transcode.h"

volatile sig_atomic_t  td_stop;
volatile sig_atomic_t  td_reload;

static td_config_t      td_cf;
static pthread_mutex_t  td_cf_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    td_queue_t       *queue;
    td_job_t         *job;
    td_config_t       cf;

    /* the ticker: reports progress every second while a job runs, also
     * while the encoders drain, and keeps the pending entry fresh */
    pthread_t         ticker;
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    double            fraction;
    double            advanced_at;  /* the renderer last moved (monotonic) */
    double            sent_at;      /* the advance the last report covered */
    int               busy;         /* an S3 transfer of the daemon's own */
    int               ticking;

    const char       *result;   /* how the job ended, for the metrics */

    /* the attempt's progressive publishing (NULL: none), and whether the
     * module was last told the version is playable */
    td_progressive_t *prog;
    int               playable_told;
} td_slot_t;


static void
td_signal(int sig)
{
    if (sig == SIGHUP) {
        td_reload = 1;
    } else {
        td_stop = 1;
    }
}

static int
td_mkdirs(const char *path)
{
    char  buf[2048], *p;

    snprintf(buf, sizeof(buf), "%s", path);
    for (p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return (mkdir(buf, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

/* playable: 1 or 0 to say so, -1 to leave it out */
static void
td_send_playable(td_slot_t *s, const char *status, double progress,
    json_t *meta, json_t *rends, const char *error, int playable,
    int *accepted)
{
    int      rc;
    char    *body;
    json_t  *o;

    o = json_pack("{s:s, s:s, s:s}", MAM_CALLBACK_JOB_ID, s->job->f.job_id,
                  MAM_CALLBACK_VERSION_ID, s->job->f.version_id,
                  MAM_CALLBACK_STATUS, status);
    if (progress >= 0) {
        json_object_set_new(o, MAM_CALLBACK_PROGRESS, json_real(progress));
    }
    if (meta) {
        json_object_set(o, MAM_CALLBACK_METADATA, meta);
    }
    if (rends) {
        json_object_set(o, MAM_CALLBACK_RENDITIONS, rends);
    }
    if (error) {
        json_object_set_new(o, MAM_CALLBACK_ERROR, json_string(error));
    }
    if (playable >= 0) {
        json_object_set_new(o, MAM_CALLBACK_PLAYABLE, json_boolean(playable));
    }

    body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    rc = body ? td_callback(&s->cf, body) : -1;
    free(body);

    if (accepted) {
        *accepted = rc;
    }
}

static void
td_send(td_slot_t *s, const char *status, double progress, json_t *meta,
    json_t *rends, const char *error, int *accepted)
{
    td_send_playable(s, status, progress, meta, rends, error, -1, accepted);
}

/* the module learns when the version becomes playable (and when it stops
 * being so); retried on the next look while not accepted */
static void
td_tell_playable(td_slot_t *s, int playable)
{
    int  accepted;

    if (playable == s->playable_told) {
        return;
    }
    td_send_playable(s, MAM_PREVIEW_PROCESSING, -1, NULL, NULL, NULL,
                     playable, &accepted);
    if (accepted >= 0) {
        s->playable_told = playable;
    }
}

/* between two beats of the renderer: publish what it finished */
static void
td_watch(void *data, json_t *outputs)
{
    td_slot_t  *s = data;

    td_progressive_watch(s->prog, outputs);
    td_tell_playable(s, td_progressive_playable(s->prog));
}

static double
td_mono(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the renderer's heartbeat (render.c) */
static void
td_beat(void *data, double fraction, double advanced_at)
{
    td_slot_t  *s = data;

    pthread_mutex_lock(&s->lock);
    if (fraction > s->fraction) {
        s->fraction = fraction;
    }
    s->advanced_at = advanced_at;
    pthread_mutex_unlock(&s->lock);
}

/* work of the daemon's own (S3 transfers, publishing) counts as advancing */
static void
td_advanced(td_slot_t *s)
{
    td_beat(s, 0, td_mono());
}

/*
 * Each second: a progress report when the renderer moved since the last
 * one, and the XCLAIM that keeps the entry ours while it moved within
 * stall_timeout.  A stuck renderer is thus never kept alive by our own
 * claims or reports: the watchdog kills it, or the entry goes idle.
 */
static void *
td_ticker(void *arg)
{
    int              moved, alive;
    double           f, at;
    td_slot_t       *s = arg;
    struct timespec  ts;

    pthread_mutex_lock(&s->lock);
    while (s->ticking) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        if (!s->ticking) {
            break;
        }
        f = s->fraction;
        at = s->advanced_at;
        moved = at > s->sent_at;
        s->sent_at = at;
        alive = s->busy || td_mono() - at < s->cf.stall_timeout;
        pthread_mutex_unlock(&s->lock);

        if (moved) {
            td_send(s, MAM_PREVIEW_PROCESSING, f, NULL, NULL, NULL, NULL);
        }
        if (alive) {
            td_queue_touch(s->queue, s->job);
        }

        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);

    return NULL;
}

static void
td_ticker_start(td_slot_t *s)
{
    s->fraction = 0;
    s->advanced_at = td_mono();
    s->sent_at = 0;
    s->ticking = 1;
    if (pthread_create(&s->ticker, NULL, td_ticker, s) != 0) {
        s->ticking = 0;
    }
}

static void
td_ticker_stop(td_slot_t *s)
{
    int  was;

    pthread_mutex_lock(&s->lock);
    was = s->ticking;
    s->ticking = 0;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);

    if (was) {
        pthread_join(s->ticker, NULL);
    }
}

static int
td_backoff(const td_config_t *cf, int attempt)
{
    long  ms;

    ms = (long) cf->backoff_ms << (attempt - 1);
    if (ms > 300000) {
        ms = 300000;
    }
    /* +-25 % jitter, so retries of many jobs do not march in step */
    ms += (rand() % (ms / 2 + 1)) - ms / 4;
    return (int) ms;
}

static void
td_sleep_ms(int ms)
{
    while (ms > 0 && !td_stop) {
        usleep(ms > 200 ? 200000 : (useconds_t) ms * 1000);
        ms -= 200;
    }
}

/* a backoff between attempts keeps the entry ours */
static void
td_sleep_claimed(td_slot_t *s, int ms)
{
    while (ms > 0 && !td_stop) {
        td_queue_touch(s->queue, s->job);
        td_sleep_ms(ms > 1000 ? 1000 : ms);
        ms -= 1000;
    }
}

/* what the renderer left is folders and plain files only: never a link or
 * anything else the edge or the S3 upload would follow */
static int
td_tree_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
    (void) path;
    (void) ftw;
    if (type == FTW_D || type == FTW_DP) {
        return 0;
    }
    return type == FTW_F && S_ISREG(st->st_mode) ? 0 : 1;
}

static int
td_tree_plain(const char *dir)
{
    return nftw(dir, td_tree_entry, 16, FTW_PHYS) == 0;
}

/* the daemon's own blocking work (S3 transfers): the entry stays ours */
static void
td_busy(td_slot_t *s, int busy)
{
    pthread_mutex_lock(&s->lock);
    s->busy = busy;
    pthread_mutex_unlock(&s->lock);
}

/* progressive publishing's transfers are the daemon's own work: the entry
 * stays ours meanwhile (the watchdog's beats wait for them), yet a stuck
 * renderer, with nothing to publish, is not kept alive by them */
static void
td_busy_hook(void *data, int on)
{
    td_busy(data, on);
}

/* one attempt: fetch (S3), render in the confined child, check what it
 * left, publish.  0 published; -1 with t->error */
static int
td_attempt(td_slot_t *s, td_transcode_t *t, const td_render_opts_t *ro,
    const char *input, const char *dir, const char *tmp)
{
    int               rc = -1, withdrawn;
    int               on_s3 = s->cf.store.kind == MAM_STORE_S3;
    td_render_opts_t  o = *ro;

    (void) mam_local_remove_tree(tmp);
    td_ticker_start(s);

    if (td_mkdirs(tmp) != 0) {
        snprintf(t->error, sizeof(t->error), "cannot create %s: %s", tmp,
                 strerror(errno));
        goto done;
    }

    /* published while it renders, unless a finished ladder is there (a
     * forced re-run: it stays until the new one replaces it whole) */
    td_busy(s, 1);
    rc = td_progressive_start(&s->cf, s->job->f.job_id, tmp, dir, &s->prog,
                              &withdrawn, t->error, sizeof(t->error));
    td_busy(s, 0);
    if (rc != 0) {
        goto done;                      /* storage trouble: transient */
    }
    if (withdrawn) {
        s->playable_told = 1;           /* an interrupted attempt's */
        td_tell_playable(s, 0);
    }
    if (s->prog) {
        td_progressive_on_busy(s->prog, td_busy_hook, s);
        o.watch = td_watch;
        o.watch_data = s;
    }

    if (on_s3) {
        td_busy(s, 1);
        rc = td_storage_fetch(&s->cf, s->job->f.master_key, input, t->error,
                              sizeof(t->error));
        td_busy(s, 0);
        if (rc != 0) {
            goto done;                  /* storage trouble: transient */
        }
    }

    td_advanced(s);
    rc = td_render(t, &o);
    if (rc != 0) {
        goto done;
    }

    if (!td_tree_plain(tmp)) {
        snprintf(t->error, sizeof(t->error), "the renderer left something "
                 "other than files and folders in its output: refused");
        t->permanent = 1;
        rc = -1;
        goto done;
    }

    /* local: one rename, no transfer to wait for */
    if (on_s3) {
        td_busy(s, 1);
    } else {
        td_ticker_stop(s);
    }
    td_progressive_finish(s->prog);
    rc = td_storage_publish(&s->cf, tmp, dir, t->error, sizeof(t->error));
    if (on_s3) {
        td_busy(s, 0);
    }

done:
    /* a failed attempt leaves nothing playable behind (at shutdown the
     * next attempt, wherever it runs, removes it) */
    if (rc != 0 && s->prog && !td_stop) {
        td_busy(s, 1);
        (void) td_progressive_withdraw(s->prog);
        td_busy(s, 0);
        td_tell_playable(s, 0);
    }
    td_progressive_free(s->prog);
    s->prog = NULL;
    td_ticker_stop(s);
    if (on_s3) {
        unlink(input);
    }
    if (rc != 0 || on_s3) {
        (void) mam_local_remove_tree(tmp);
    }
    if (rc != 0) {
        json_decref(t->metadata);
        json_decref(t->renditions);
        t->metadata = t->renditions = NULL;
    }
    return rc;
}

/* 1 done (ack), 0 abandoned (no ack) */
static int
td_work_job(td_slot_t *s)
{
    int               attempt, accepted, cores;
    char              input[2200], dir[2200], tmp[2300];
    td_job_t         *job = s->job;
    td_transcode_t    t;
    td_render_opts_t  ro;

    if (!mam_job_valid(&job->f)) {
        td_log(job->f.job_id, "malformed entry %s: dropped", job->id);
        td_send(s, MAM_PREVIEW_FAILED, -1, NULL, NULL, "malformed job entry",
                NULL);
        s->result = "failed";
        return 1;
    }

    /* dir is the previews folder's key; input and tmp are local files */
    if (td_storage_paths(&s->cf, &job->f, input, sizeof(input), dir,
                         sizeof(dir), tmp, sizeof(tmp))
        != 0)
    {
        td_log(job->f.job_id, "entry %s: storage paths too long: dropped",
               job->id);
        td_send(s, MAM_PREVIEW_FAILED, -1, NULL, NULL, "malformed job entry",
                NULL);
        s->result = "failed";
        return 1;
    }

    cores = s->cf.threads ? s->cf.threads
                          : (int) sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores / s->cf.jobs > 0 ? cores / s->cf.jobs : 1;

    memset(&ro, 0, sizeof(ro));
    ro.stall_timeout = s->cf.stall_timeout;
    ro.job_timeout = s->cf.job_timeout;
    ro.memory_mb = s->cf.memory_limit;
    ro.cpu_seconds = (long) s->cf.job_timeout * cores;
    ro.stop = &td_stop;
    ro.beat = td_beat;
    ro.beat_data = s;

    td_log(job->f.job_id, "start: entry %s, attempt %ld, delivery %d, %s",
           job->id, job->f.attempt, job->deliveries, job->f.master_key);
    s->playable_told = 0;
    td_send(s, MAM_PREVIEW_PROCESSING, 0, NULL, NULL, NULL, NULL);

    for (attempt = 1; ; attempt++) {
        memset(&t, 0, sizeof(t));
        t.input = input;
        t.outdir = tmp;
        t.job = job->f.job_id;
        t.mode = s->cf.encoder;
        t.preset = s->cf.preset;
        t.threads = cores;
        t.limits = &s->cf.limits;

        if (td_attempt(s, &t, &ro, input, dir, tmp) == 0) {
            break;
        }

        if (td_stop) {
            td_log(job->f.job_id, "abandoned at shutdown (not acknowledged)");
            s->result = "abandoned";
            return 0;
        }

        td_log(job->f.job_id, "attempt %d failed%s: %s", attempt,
               t.permanent ? " for good" : "", t.error);
        td_metrics_attempt_failed();

        if (t.permanent || attempt >= s->cf.attempts) {
            s->result = "failed";
            if (!t.permanent) {
                td_queue_dead(s->queue, job, t.error);
                s->result = "dead";
            }
            td_send(s, MAM_PREVIEW_FAILED, -1, NULL, NULL, t.error, &accepted);
            return accepted >= 0;
        }

        td_sleep_claimed(s, td_backoff(&s->cf, attempt));
        if (td_stop) {
            s->result = "abandoned";
            return 0;
        }
    }

    /* ready: acknowledged only once the callback was accepted */
    td_send(s, MAM_PREVIEW_READY, -1, t.metadata, t.renditions, NULL,
            &accepted);
    for (attempt = 1; accepted < 0 && attempt < s->cf.attempts && !td_stop;
         attempt++)
    {
        td_sleep_ms(td_backoff(&s->cf, attempt));
        td_send(s, MAM_PREVIEW_READY, -1, t.metadata, t.renditions, NULL,
            &accepted);
    }
    json_decref(t.metadata);
    json_decref(t.renditions);

    td_log(job->f.job_id, "ready%s", accepted < 0 ? " (callback not accepted, "
           "left pending)" : "");
    s->result = "ready";

    return accepted >= 0;
}


/* one job, counted */
static int
td_work(td_slot_t *s)
{
    int              rc;
    struct timespec  t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    td_metrics_job_started();
    s->result = "abandoned";

    rc = td_work_job(s);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    td_metrics_job_finished(s->result, (double) (t1.tv_sec - t0.tv_sec)
                                       + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc;
}

/* before CUDA starts: where the compiled kernels live (made only once a
 * device is found) */
static void
td_gpu_cache(const char *dir, td_encoder_mode_t mode)
{
    if (mode != TD_ENC_X264) {
        setenv("CUDA_CACHE_PATH", dir, 1);
    }
}

/* with a GPU: the CUDA kernels compiled once, then the daemon lets go of
 * the device (renderers open their own) */
static void
td_gpu_prepare(td_encoder_mode_t mode, int cuda)
{
    char             err[256];
    struct timespec  t0, t1;

    if (cuda && mode != TD_ENC_X264) {
        if (getenv("CUDA_CACHE_PATH")
            && td_mkdirs(getenv("CUDA_CACHE_PATH")) != 0)
        {
            td_log(NULL, "%s: %s", getenv("CUDA_CACHE_PATH"),
                   strerror(errno));
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (td_transcode_warm_gpu(err, sizeof(err)) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            td_log(NULL, "CUDA kernels ready in %s (%.1f s)",
                   getenv("CUDA_CACHE_PATH") ? getenv("CUDA_CACHE_PATH")
                                             : "the driver's cache",
                   (double) (t1.tv_sec - t0.tv_sec)
                   + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        } else {
            td_log(NULL, "CUDA kernels not prepared: %s", err);
        }
    }
    td_transcode_release_gpu();
}

/* -r: one file, no queue, no callback; rendered by the same confined
 * child as a job, with the default limits */
static int
td_render_one(const char *input, const char *outdir, td_encoder_mode_t mode)
{
    int               rc, nvenc, cuda;
    char             *out;
    td_limits_t       limits;
    td_transcode_t    t;
    td_render_opts_t  ro;

    td_log_open(NULL);
    td_limits_default(&limits);
    av_log_set_level(AV_LOG_ERROR);

    if (mode != TD_ENC_X264) {
        td_gpu_cache(getenv("CUDA_CACHE_PATH") ? getenv("CUDA_CACHE_PATH")
                                               : "/var/tmp/mam-cuda-cache",
                     mode);
        td_transcode_probe_gpu(&nvenc, &cuda);
        td_gpu_prepare(mode, cuda);
    }

    memset(&t, 0, sizeof(t));
    t.input = input;
    t.outdir = outdir;
    t.job = "render";
    t.mode = mode;
    t.preset = getenv("TD_PRESET") ? getenv("TD_PRESET") : "veryfast";
    t.threads = (int) sysconf(_SC_NPROCESSORS_ONLN);
    t.limits = &limits;

    memset(&ro, 0, sizeof(ro));
    ro.stall_timeout = 120;
    ro.job_timeout = limits.max_duration;
    ro.memory_mb = 16384;
    ro.stop = &td_stop;

    if (td_mkdirs(outdir) != 0) {
        fprintf(stderr, "transcoderd: %s: %s\n", outdir, strerror(errno));
        return 1;
    }

    rc = td_render(&t, &ro);
    if (rc != 0) {
        fprintf(stderr, "transcoderd: %s%s\n", t.error,
                t.permanent ? " (permanent)" : "");
        return 1;
    }

    json_object_set(t.metadata, "renditions", t.renditions);
    out = json_dumps(t.metadata, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    printf("%s\n", out);
    free(out);
    json_decref(t.metadata);
    json_decref(t.renditions);
    return 0;
}

/* a job every consumer that took it died on (crash, hang, kill): it has
 * been handed out more than max_deliveries times and ends here */
static void
td_dead_letter(td_slot_t *s)
{
    int   accepted;
    char  error[256];

    snprintf(error, sizeof(error), "gave up after %d deliveries without a "
             "result (max_deliveries %d): every transcoder that took the job "
             "stopped before it could report", s->job->deliveries - 1,
             s->cf.max_deliveries);
    td_log(s->job->f.job_id, "entry %s: %s", s->job->id, error);
    td_metrics_job_started();
    td_queue_dead(s->queue, s->job, error);
    td_send(s, MAM_PREVIEW_FAILED, -1, NULL, NULL, error, &accepted);
    td_metrics_job_finished("dead", 0);
    if (accepted >= 0) {
        td_queue_ack(s->queue, s->job);
    }
}

static void *
td_slot(void *arg)
{
    int          rc;
    td_job_t     job;
    td_slot_t    s;

    (void) arg;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);

    while (!td_stop) {
        pthread_mutex_lock(&td_cf_lock);
        s.cf = td_cf;
        pthread_mutex_unlock(&td_cf_lock);

        if (s.queue == NULL) {
            s.queue = td_queue_connect(&s.cf);
            if (s.queue == NULL) {
                td_sleep_ms(1000);
                continue;
            }
        }

        rc = td_queue_next(s.queue, 1000, &job);
        if (rc < 0) {
            td_log(NULL, "redis connection lost; reconnecting");
            td_queue_free(s.queue);
            s.queue = NULL;
            td_sleep_ms(500);
            continue;
        }
        if (rc == 0) {
            continue;
        }

        s.job = &job;
        if (job.deliveries > s.cf.max_deliveries) {
            td_dead_letter(&s);
        } else if (td_work(&s)) {
            td_queue_ack(s.queue, &job);
        }
        s.job = NULL;
    }

    td_queue_free(s.queue);
    return NULL;
}

int
main(int argc, char **argv)
{
    int               i, opt, test = 0, nvenc, cuda;
    char              err[1024], path[1024] = "/etc/mam/transcoderd.conf";
    const char       *render = NULL;
    td_encoder_mode_t mode = TD_ENC_X264;
    pthread_t        *threads;
    struct sigaction  sa;
    td_config_t       cf;

    /* the renderer child (render.c), started by the daemon itself */
    if (argc == 3 && strcmp(argv[1], "-R") == 0) {
        td_render_child(argv[2]);
    }

    while ((opt = getopt(argc, argv, "c:tr:e:")) != -1) {
        if (opt == 'c') {
            snprintf(path, sizeof(path), "%s", optarg);
        } else if (opt == 't') {
            test = 1;
        } else if (opt == 'r') {
            render = optarg;
        } else if (opt == 'e') {
            mode = strcmp(optarg, "auto") == 0 ? TD_ENC_AUTO
                   : strcmp(optarg, "nvenc") == 0 ? TD_ENC_NVENC
                   : strcmp(optarg, "cuda-decode") == 0 ? TD_ENC_CUDA_DECODE
                   : TD_ENC_X264;
        } else {
            fprintf(stderr, "usage: transcoderd [-c config] [-t] | "
                    "-r MASTER OUTDIR [-e encoder]\n");
            return 2;
        }
    }

    if (render) {
        if (optind >= argc) {
            fprintf(stderr, "usage: transcoderd -r MASTER OUTDIR\n");
            return 2;
        }
        return td_render_one(render, argv[optind], mode);
    }

    if (td_config_load(path, &td_cf, err, sizeof(err)) != 0) {
        fprintf(stderr, "transcoderd: %s\n", err);
        return 1;
    }
    if (test) {
        printf("transcoderd: %s is fine\n", path);
        return 0;
    }

    td_log_open(td_cf.log_file);
    av_log_set_level(AV_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand((unsigned) time(NULL) ^ (unsigned) getpid());

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = td_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    td_gpu_cache(td_cf.cuda_cache_dir, td_cf.encoder);
    td_transcode_probe_gpu(&nvenc, &cuda);
    td_gpu_prepare(td_cf.encoder, cuda);
    td_log(NULL, "renderer confinement: rlimits, no_new_privs, seccomp, %s",
           td_landlock_abi() > 0 ? "landlock"
           : "no landlock on this kernel (the file system is not narrowed)");
    td_log(NULL, "started as consumer %s, %d job slot(s); h264_nvenc %s, "
           "CUDA %s; encoder setting %d", td_cf.consumer, td_cf.jobs,
           nvenc ? "opens" : "does not open", cuda ? "present" : "absent",
           (int) td_cf.encoder);

    if (td_cf.metrics_listen[0]
        && td_metrics_start(td_cf.metrics_listen, err, sizeof(err)) != 0)
    {
        td_log(NULL, "%s", err);
        return 1;
    }

    threads = calloc((size_t) td_cf.jobs, sizeof(pthread_t));
    for (i = 0; i < td_cf.jobs; i++) {
        pthread_create(&threads[i], NULL, td_slot, NULL);
    }

    /* systemd (Type=notify): configured, confinement probed, slots
     * running; a no-op without $NOTIFY_SOCKET */
    sd_notifyf(0, "READY=1\nSTATUS=%d job slot(s) reading previews:build\n"
               "MAINPID=%lu", td_cf.jobs, (unsigned long) getpid());

    while (!td_stop) {
        usleep(100000);
        if (td_reload) {
            td_reload = 0;
            sd_notify(0, "RELOADING=1");
            if (td_config_load(path, &cf, err, sizeof(err)) != 0) {
                td_log(NULL, "reload refused: %s", err);
                sd_notifyf(0, "READY=1\nSTATUS=reload refused: %s", err);
                continue;
            }
            /* the consumer name and slot count stay for this process */
            snprintf(cf.consumer, sizeof(cf.consumer), "%s", td_cf.consumer);
            cf.jobs = td_cf.jobs;
            pthread_mutex_lock(&td_cf_lock);
            td_cf = cf;
            pthread_mutex_unlock(&td_cf_lock);
            td_log_open(td_cf.log_file);
            td_log(NULL, "configuration re-read, log reopened");
            sd_notify(0, "READY=1\nSTATUS=configuration re-read");
        }
    }

    sd_notify(0, "STOPPING=1");
    td_log(NULL, "stopping");
    for (i = 0; i < td_cf.jobs; i++) {
        pthread_join(threads[i], NULL);
    }
    free(threads);
    td_metrics_stop();
    td_log(NULL, "stopped");
    curl_global_cleanup();

    return 0;
}
