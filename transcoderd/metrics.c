/*
 * transcoderd's own Prometheus metrics on a local port (metrics_listen =
 * 127.0.0.1:9465): job counts by result, job durations, jobs running and
 * failed attempts.  One thread answers GET /metrics; the counters are
 * atomics the job threads bump.
 */
#include "td.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char  *td_results[] = { "ready", "failed", "dead", "abandoned" };

static unsigned long  td_jobs[4];
static unsigned long  td_running;
static unsigned long  td_attempts_failed;
static unsigned long  td_job_msec;          /* of finished jobs */
static unsigned long  td_job_count;

static int            td_metrics_fd = -1;
static pthread_t      td_metrics_thread;

void
td_metrics_job_started(void)
{
    __atomic_add_fetch(&td_running, 1, __ATOMIC_RELAXED);
}

void
td_metrics_attempt_failed(void)
{
    __atomic_add_fetch(&td_attempts_failed, 1, __ATOMIC_RELAXED);
}

void
td_metrics_job_finished(const char *result, double seconds)
{
    size_t  i;

    for (i = 0; i < sizeof(td_results) / sizeof(td_results[0]); i++) {
        if (strcmp(result, td_results[i]) == 0) {
            __atomic_add_fetch(&td_jobs[i], 1, __ATOMIC_RELAXED);
        }
    }
    __atomic_sub_fetch(&td_running, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&td_job_msec, (unsigned long) (seconds * 1000),
                       __ATOMIC_RELAXED);
    __atomic_add_fetch(&td_job_count, 1, __ATOMIC_RELAXED);
}

static int
td_metrics_text(char *buf, size_t size)
{
    size_t         i, n;
    unsigned long  msec;

    n = (size_t) snprintf(buf, size,
        "# HELP mam_transcoderd_jobs_total Jobs finished, by result.\n"
        "# TYPE mam_transcoderd_jobs_total counter\n");
    for (i = 0; i < sizeof(td_results) / sizeof(td_results[0]) && n < size;
         i++)
    {
        n += (size_t) snprintf(buf + n, size - n,
                               "mam_transcoderd_jobs_total{result=\"%s\"} %lu\n",
                               td_results[i],
                               __atomic_load_n(&td_jobs[i], __ATOMIC_RELAXED));
    }

    msec = __atomic_load_n(&td_job_msec, __ATOMIC_RELAXED);
    if (n < size) {
        n += (size_t) snprintf(buf + n, size - n,
            "# HELP mam_transcoderd_jobs_running Jobs being worked now.\n"
            "# TYPE mam_transcoderd_jobs_running gauge\n"
            "mam_transcoderd_jobs_running %lu\n"
            "# HELP mam_transcoderd_attempts_failed_total Attempts that "
            "failed (retried or not).\n"
            "# TYPE mam_transcoderd_attempts_failed_total counter\n"
            "mam_transcoderd_attempts_failed_total %lu\n"
            "# HELP mam_transcoderd_job_seconds Time from a job's start to "
            "its end.\n"
            "# TYPE mam_transcoderd_job_seconds summary\n"
            "mam_transcoderd_job_seconds_sum %lu.%03lu\n"
            "mam_transcoderd_job_seconds_count %lu\n",
            __atomic_load_n(&td_running, __ATOMIC_RELAXED),
            __atomic_load_n(&td_attempts_failed, __ATOMIC_RELAXED),
            msec / 1000, msec % 1000,
            __atomic_load_n(&td_job_count, __ATOMIC_RELAXED));
    }

    return n < size ? (int) n : -1;
}

static void
td_metrics_answer(int fd)
{
    char            req[1024], body[4096], head[256];
    ssize_t         got;
    int             len, hlen;
    struct timeval  tv = { 1, 0 };

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    got = recv(fd, req, sizeof(req) - 1, 0);
    if (got <= 0) {
        return;
    }
    req[got] = '\0';

    if (strncmp(req, "GET /metrics ", 13) != 0) {
        static const char  nf[] = "HTTP/1.0 404 Not Found\r\n"
                                  "Content-Length: 0\r\n\r\n";
        (void) !write(fd, nf, sizeof(nf) - 1);
        return;
    }

    len = td_metrics_text(body, sizeof(body));
    if (len < 0) {
        return;
    }
    hlen = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
                    "Content-Type: text/plain; version=0.0.4\r\n"
                    "Content-Length: %d\r\n\r\n", len);
    if (write(fd, head, (size_t) hlen) == hlen) {
        (void) !write(fd, body, (size_t) len);
    }
}

static void *
td_metrics_serve(void *arg)
{
    int            fd;
    struct pollfd  pfd;

    (void) arg;

    pfd.fd = td_metrics_fd;
    pfd.events = POLLIN;

    while (!td_stop) {
        if (poll(&pfd, 1, 200) <= 0) {
            continue;
        }
        fd = accept(td_metrics_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        td_metrics_answer(fd);
        close(fd);
    }

    return NULL;
}

/* "IP:port"; 0, or -1 with err */
int
td_metrics_start(const char *listen_on, char *err, size_t len)
{
    int                 one = 1;
    char                host[64];
    const char         *colon;
    struct sockaddr_in  sin;

    colon = strrchr(listen_on, ':');
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    if (colon == NULL || (size_t) (colon - listen_on) >= sizeof(host)) {
        snprintf(err, len, "metrics_listen: IP:port expected");
        return -1;
    }
    memcpy(host, listen_on, (size_t) (colon - listen_on));
    host[colon - listen_on] = '\0';
    sin.sin_port = htons((unsigned short) atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || sin.sin_port == 0) {
        snprintf(err, len, "metrics_listen: IP:port expected");
        return -1;
    }

    td_metrics_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (td_metrics_fd < 0
        || setsockopt(td_metrics_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof(one)) != 0
        || bind(td_metrics_fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(td_metrics_fd, 16) != 0
        || pthread_create(&td_metrics_thread, NULL, td_metrics_serve, NULL)
           != 0)
    {
        snprintf(err, len, "metrics_listen %s: %s", listen_on,
                 strerror(errno));
        if (td_metrics_fd >= 0) {
            close(td_metrics_fd);
            td_metrics_fd = -1;
        }
        return -1;
    }

    return 0;
}

void
td_metrics_stop(void)
{
    if (td_metrics_fd < 0) {
        return;
    }
    pthread_join(td_metrics_thread, NULL);
    close(td_metrics_fd);
    td_metrics_fd = -1;
}
