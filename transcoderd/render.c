/*
 * One renderer process per attempt.  The daemon (stream, callbacks,
 * retries, metrics) never parses media: it starts its own binary again as
 * `transcoderd -R SPEC` with a pipe on fd 3, and watches it.
 *
 *   child  -> parent   "P fraction bytes packets\n"   every 250 ms
 *                      "S {json}\n"                    the ladder's shape,
 *                                                      once per pass
 *                      "R {json}\n"                    the result, once
 *
 * The child confines itself (sandbox.c) before it opens the master.  The
 * parent kills it when the bytes read from the master and the packets
 * written both stand still for stall_timeout, when the attempt outlives
 * job_timeout, or at shutdown; a child that dies of a signal fails the
 * attempt with the signal's name.  What the child says is read as
 * untrusted: bounded lines, parsed with jansson, types checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "render.h"
#include "sandbox.h"

#define TD_RENDER_FD        3
#define TD_RENDER_LINE_MAX  (256 * 1024)
#define TD_BEAT_MS          250


static double
td_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- the parent ----------------------------------------------------------- */

static char *
td_render_spec(const td_transcode_t *t, const td_render_opts_t *o)
{
    char    *s;
    json_t  *j;
    const td_limits_t  *l = t->limits;

    j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:I, s:I,"
                  " s:{s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:I}}",
                  "input", t->input, "outdir", t->outdir, "job", t->job,
                  "mode", (int) t->mode, "preset", t->preset,
                  "threads", t->threads,
                  "memory_mb", (json_int_t) o->memory_mb,
                  "cpu_seconds", (json_int_t) o->cpu_seconds,
                  "limits", "formats", l->formats,
                  "long", l->max_long_side, "short", l->max_short_side,
                  "duration", l->max_duration, "streams", l->max_streams,
                  "fps", l->max_frame_rate,
                  "probe", (json_int_t) l->probe_size,
                  "analyze", (json_int_t) l->analyze_us);
    s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static pid_t
td_render_spawn(const char *spec, int *rfd)
{
    int     p[2], logfd;
    pid_t   pid, parent = getpid();
    char   *argv[] = { "transcoderd", "-R", (char *) spec, NULL };

    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    logfd = td_log_fd();

    pid = fork();
    if (pid == 0) {
        /* async-signal-safe calls only until exec: the parent has threads */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        if (logfd >= 0 && logfd != 2 && dup2(logfd, 2) < 0) {
            _exit(127);
        }
        if (p[1] == TD_RENDER_FD) {
            fcntl(p[1], F_SETFD, 0);
        } else if (dup2(p[1], TD_RENDER_FD) < 0) {
            _exit(127);
        }
        /* hiredis and curl sockets are not all close-on-exec */
        if (syscall(SYS_close_range, TD_RENDER_FD + 1, ~0U, 0) != 0) {
            for (logfd = TD_RENDER_FD + 1; logfd < 65536; logfd++) {
                close(logfd);
            }
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }

    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    *rfd = p[0];
    return pid;
}

typedef struct {
    char      buf[TD_RENDER_LINE_MAX];
    size_t    len;
    int       overflow;
    double    fraction;
    long long bytes, packets;
    json_t   *outputs;
    json_t   *result;
} td_reader_t;

static void
td_render_line(td_reader_t *rd, char *line)
{
    double     f;
    long long  b, p;

    if (line[0] == 'P' && sscanf(line, "P %lf %lld %lld", &f, &b, &p) == 3) {
        if (f >= 0 && f <= 1) {
            rd->fraction = f;
        }
        rd->bytes = b;
        rd->packets = p;
    } else if (line[0] == 'S' && line[1] == ' ') {
        json_decref(rd->outputs);
        rd->outputs = json_loads(line + 2, JSON_REJECT_DUPLICATES, NULL);
    } else if (line[0] == 'R' && line[1] == ' ' && rd->result == NULL) {
        rd->result = json_loads(line + 2, JSON_REJECT_DUPLICATES, NULL);
    }
}

/* 0 more to come, 1 end of the pipe */
static int
td_render_read(td_reader_t *rd, int fd)
{
    char     *nl, *start;
    ssize_t   n;

    n = read(fd, rd->buf + rd->len, sizeof(rd->buf) - 1 - rd->len);
    if (n < 0) {
        return errno == EINTR || errno == EAGAIN ? 0 : 1;
    }
    if (n == 0) {
        return 1;
    }
    rd->len += (size_t) n;
    rd->buf[rd->len] = '\0';

    start = rd->buf;
    while ((nl = memchr(start, '\n', rd->len - (size_t) (start - rd->buf)))) {
        *nl = '\0';
        if (!rd->overflow) {
            td_render_line(rd, start);
        }
        rd->overflow = 0;
        start = nl + 1;
    }
    rd->len -= (size_t) (start - rd->buf);
    memmove(rd->buf, start, rd->len);

    if (rd->len == sizeof(rd->buf) - 1) {
        rd->overflow = 1;       /* a line too long: dropped */
        rd->len = 0;
    }
    return 0;
}

/* the child's verdict, checked before the parent believes it */
static void
td_render_result(td_transcode_t *t, json_t *r)
{
    json_t  *ok, *err, *meta, *rends;

    ok = json_object_get(r, "ok");
    err = json_object_get(r, "error");
    meta = json_object_get(r, "metadata");
    rends = json_object_get(r, "renditions");

    if (json_is_true(ok) && json_is_object(meta) && json_is_array(rends)
        && json_array_size(rends) <= 8)
    {
        t->metadata = json_incref(meta);
        t->renditions = json_incref(rends);
        return;
    }

    snprintf(t->error, sizeof(t->error), "%s",
             json_is_string(err) ? json_string_value(err)
                                 : "the renderer gave no usable result");
    t->permanent = json_is_true(json_object_get(r, "permanent"));
}

static void
td_render_status(td_transcode_t *t, int status, const char *killed)
{
    const char  *name;

    if (killed) {
        snprintf(t->error, sizeof(t->error), "%s", killed);
    } else if (WIFSIGNALED(status)) {
        name = sigabbrev_np(WTERMSIG(status));
        snprintf(t->error, sizeof(t->error), "the renderer was killed by "
                 "SIG%s%s", name ? name : "?",
                 WTERMSIG(status) == SIGKILL ? " (memory or CPU limit?)"
                 : "");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(t->error, sizeof(t->error), "the renderer exited with "
                 "status %d", WEXITSTATUS(status));
    } else {
        snprintf(t->error, sizeof(t->error), "the renderer ended without a "
                 "result");
    }
    t->permanent = 0;
}

int
td_render(td_transcode_t *t, const td_render_opts_t *o)
{
    int           fd = -1, status = 0, open_pipe, reaped = 0;
    char         *spec, why[160];
    pid_t         pid;
    double        start, now, advanced_at, stuck;
    long long     bytes = -1, packets = -1;
    const char   *killed = NULL;
    td_reader_t  *rd;
    struct pollfd pfd;

    t->error[0] = '\0';
    t->permanent = 0;

    rd = calloc(1, sizeof(td_reader_t));
    spec = td_render_spec(t, o);
    pid = (rd && spec) ? td_render_spawn(spec, &fd) : -1;
    free(spec);
    if (pid < 0) {
        snprintf(t->error, sizeof(t->error), "cannot start the renderer: %s",
                 strerror(errno));
        free(rd);
        return -1;
    }

    start = advanced_at = td_now();
    open_pipe = 1;

    while (!reaped) {
        if (open_pipe) {
            pfd.fd = fd;
            pfd.events = POLLIN;
            if (poll(&pfd, 1, TD_BEAT_MS) > 0 && td_render_read(rd, fd)) {
                open_pipe = 0;
            }
        } else {
            usleep(10000);          /* the pipe is closed: it is exiting */
        }

        reaped = waitpid(pid, &status, WNOHANG) == pid;
        now = td_now();

        if (rd->bytes != bytes || rd->packets != packets) {
            bytes = rd->bytes;
            packets = rd->packets;
            advanced_at = now;
        }
        if (o->beat) {
            o->beat(o->beat_data, rd->fraction, advanced_at);
        }

        if (reaped || killed) {
            continue;
        }

        if (o->watch) {
            o->watch(o->watch_data, rd->outputs);
        }

        stuck = now - advanced_at;
        if (*o->stop) {
            killed = "stopped";
        } else if (stuck > o->stall_timeout) {
            snprintf(why, sizeof(why), "the master stopped advancing for "
                     "%.0f s (stall_timeout): renderer killed", stuck);
            killed = why;
        } else if (now - start > o->job_timeout) {
            snprintf(why, sizeof(why), "the attempt ran longer than %d s "
                     "(job_timeout): renderer killed", o->job_timeout);
            killed = why;
        }
        if (killed) {
            kill(pid, SIGKILL);
        }
    }

    /* the rest of the pipe: a result written just before the exit */
    while (open_pipe && td_render_read(rd, fd) == 0) { /* void */ }
    close(fd);

    if (rd->result && !killed && WIFEXITED(status)
        && WEXITSTATUS(status) == 0)
    {
        td_render_result(t, rd->result);
    } else {
        td_render_status(t, status, killed);
    }
    json_decref(rd->result);
    json_decref(rd->outputs);
    free(rd);

    return t->error[0] ? -1 : 0;
}

/* --- the child -------------------------------------------------------------- */

static volatile sig_atomic_t  td_child_stop;
static pthread_mutex_t        td_child_lock = PTHREAD_MUTEX_INITIALIZER;
static double                 td_child_fraction;

/* the beat thread sleeps on a condition, so stopping it is immediate */
static pthread_mutex_t        td_beat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t         td_beat_cond = PTHREAD_COND_INITIALIZER;
static int                    td_child_beating;

static void
td_child_signal(int sig)
{
    (void) sig;
    td_child_stop = 1;
}

static void
td_child_write(const char *s, size_t len)
{
    ssize_t  n;

    pthread_mutex_lock(&td_child_lock);
    while (len > 0) {
        n = write(TD_RENDER_FD, s, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        s += n;
        len -= (size_t) n;
    }
    pthread_mutex_unlock(&td_child_lock);
}

static int
td_child_progress(void *data, double fraction)
{
    (void) data;
    td_child_fraction = fraction;
    return td_child_stop != 0;
}

/* the ladder's shape, one line in one write */
static void
td_child_outputs(void *data, const char *json)
{
    char    *line;
    size_t   n;

    (void) data;
    n = strlen(json) + 3;
    line = malloc(n + 1);
    if (line) {
        snprintf(line, n + 1, "S %s\n", json);
        td_child_write(line, n);
        free(line);
    }
}

static int
td_child_interrupt(void *data)
{
    (void) data;
    return td_child_stop != 0;
}

static void *
td_child_beat(void *arg)
{
    char             line[96];
    int              n;
    td_transcode_t  *t = arg;
    struct timespec  ts;

    pthread_mutex_lock(&td_beat_lock);
    while (td_child_beating) {
        pthread_mutex_unlock(&td_beat_lock);

        n = snprintf(line, sizeof(line), "P %.4f %lld %lld\n",
                     td_child_fraction,
                     (long long) __atomic_load_n(&t->read_bytes,
                                                 __ATOMIC_RELAXED),
                     (long long) __atomic_load_n(&t->packets,
                                                 __ATOMIC_RELAXED));
        td_child_write(line, (size_t) n);

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TD_BEAT_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&td_beat_lock);
        if (td_child_beating) {
            pthread_cond_timedwait(&td_beat_cond, &td_beat_lock, &ts);
        }
    }
    pthread_mutex_unlock(&td_beat_lock);
    return NULL;
}

/* the verdict, as one line in one write: the beat must not land inside it */
static void
td_child_result(td_transcode_t *t, int ok)
{
    char    *s, *line;
    size_t   n;
    json_t  *r;

    r = ok ? json_pack("{s:b, s:O, s:O}", "ok", 1, "metadata", t->metadata,
                       "renditions", t->renditions)
           : json_pack("{s:b, s:s, s:b}", "ok", 0, "error", t->error,
                       "permanent", t->permanent);
    s = r ? json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(r);
    if (s == NULL) {
        return;
    }

    n = strlen(s) + 3;
    line = malloc(n + 1);
    if (line) {
        snprintf(line, n + 1, "R %s\n", s);
        td_child_write(line, n);
        free(line);
    }
    free(s);
}

static int
td_child_spec(json_t *j, td_transcode_t *t, td_limits_t *l,
    td_sandbox_t *sb)
{
    json_t       *lj;
    const char   *formats;
    json_int_t    mode, threads, mem, cpu, probe, analyze;

    if (json_unpack(j, "{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:o}",
                    "input", &t->input, "outdir", &t->outdir, "job", &t->job,
                    "mode", &mode, "preset", &t->preset, "threads", &threads,
                    "memory_mb", &mem, "cpu_seconds", &cpu, "limits", &lj)
        != 0
        || json_unpack(lj, "{s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:I}",
                       "formats", &formats, "long", &l->max_long_side,
                       "short", &l->max_short_side,
                       "duration", &l->max_duration,
                       "streams", &l->max_streams,
                       "fps", &l->max_frame_rate, "probe", &probe,
                       "analyze", &analyze) != 0)
    {
        return -1;
    }

    snprintf(l->formats, sizeof(l->formats), "%s", formats);
    l->probe_size = probe;
    l->analyze_us = analyze;
    t->mode = (td_encoder_mode_t) mode;
    t->threads = (int) threads;
    t->limits = l;

    sb->input = t->input;
    sb->outdir = t->outdir;
    sb->memory_mb = (long) mem;
    sb->cpu_seconds = (long) cpu;
    return 0;
}

int
td_render_child(const char *spec)
{
    int               rc, ok, nvenc = 0, cuda = 0;
    char              what[256];
    json_t           *j;
    pthread_t         beat;
    td_limits_t       limits;
    td_sandbox_t      sb;
    td_transcode_t    t;
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = td_child_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    td_log_open(NULL);
    av_log_set_level(AV_LOG_ERROR);

    memset(&t, 0, sizeof(t));
    memset(&sb, 0, sizeof(sb));
    j = json_loads(spec, 0, NULL);
    if (j == NULL || td_child_spec(j, &t, &limits, &sb) != 0) {
        snprintf(t.error, sizeof(t.error), "renderer: bad job description");
        td_child_result(&t, 0);
        _exit(0);
    }

    /* the driver is loaded before the file system view narrows; its
     * address space is the device's, so no RLIMIT_AS with a GPU */
    if (t.mode != TD_ENC_X264) {
        td_transcode_probe_gpu(&nvenc, &cuda);
    }
    sb.gpu = nvenc || cuda;
    if (sb.gpu) {
        sb.memory_mb = 0;
    }
#if defined(__SANITIZE_ADDRESS__)
    sb.memory_mb = 0;             /* ASan reserves terabytes of shadow */
#endif

    if (td_sandbox_apply(&sb, what, sizeof(what)) != 0) {
        snprintf(t.error, sizeof(t.error), "cannot confine the renderer: %s",
                 what);
        td_child_result(&t, 0);
        _exit(0);
    }
    td_log(t.job, "renderer %ld confined: %s", (long) getpid(), what);

    t.progress = td_child_progress;
    t.outputs = td_child_outputs;
    t.interrupt.callback = td_child_interrupt;

    td_child_beating = 1;
    rc = pthread_create(&beat, NULL, td_child_beat, &t);

    ok = td_transcode(&t) == 0;

    if (rc == 0) {
        pthread_mutex_lock(&td_beat_lock);
        td_child_beating = 0;
        pthread_cond_signal(&td_beat_cond);
        pthread_mutex_unlock(&td_beat_lock);
        pthread_join(beat, NULL);
    }
    td_child_result(&t, ok);

    /* _exit: LeakSanitizer's exit-time check traces threads with ptrace,
     * which the filter refuses; the process is gone anyway */
    _exit(0);
}
