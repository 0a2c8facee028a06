/*
 * webhookd: delivers the webhooks of the projects (issue 22) from its own
 * process, never from an nginx worker.  The main thread is the relay
 * (relay.c), the workers (worker.c) send the attempts (deliver.c).
 * SIGTERM: the relay stops, an attempt in flight is abandoned (libcurl's
 * progress callback) unacknowledged, and the process exits once every
 * worker did; SIGHUP reopens the log.
 *
 *   webhookd -c /etc/mam/webhookd.conf [-t]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef WH_SYSTEMD
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
#endif

#include "wh.h"

volatile sig_atomic_t  wh_stop;
static volatile sig_atomic_t  wh_reopen;

static wh_config_t  wh_cf;


static void
wh_signal(int sig)
{
    if (sig == SIGHUP) {
        wh_reopen = 1;
    } else {
        wh_stop = 1;
    }
}


/* the log is reopened by the relay's thread between two turns */
static void *
wh_reopener(void *arg)
{
    (void) arg;

    while (!wh_stop) {
        usleep(200000);
        if (wh_reopen) {
            wh_reopen = 0;
            wh_log_open(wh_cf.log_file);
            wh_log("log reopened");
        }
    }
    return NULL;
}


int
main(int argc, char **argv)
{
    int               i, opt, test = 0;
    char              err[1024], path[1024] = "/etc/mam/webhookd.conf";
    pthread_t        *threads, reopener;
    struct sigaction  sa;

    while ((opt = getopt(argc, argv, "c:t")) != -1) {
        if (opt == 'c') {
            snprintf(path, sizeof(path), "%s", optarg);
        } else if (opt == 't') {
            test = 1;
        } else {
            fprintf(stderr, "usage: webhookd [-c config] [-t]\n");
            return 2;
        }
    }

    if (wh_config_load(path, &wh_cf, err, sizeof(err)) != 0) {
        fprintf(stderr, "webhookd: %s\n", err);
        return 1;
    }
    if (test) {
        printf("webhookd: %s is fine\n", path);
        return 0;
    }

    wh_log_open(wh_cf.log_file);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wh_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    threads = calloc((size_t) wh_cf.workers, sizeof(pthread_t));
    if (threads == NULL) {
        return 1;
    }
    for (i = 0; i < wh_cf.workers; i++) {
        pthread_create(&threads[i], NULL, wh_worker, &wh_cf);
    }
    pthread_create(&reopener, NULL, wh_reopener, NULL);

    wh_log("started as consumer %s, %d worker(s), retry window %d s, "
           "%zu allowed inside range(s)", wh_cf.consumer, wh_cf.workers,
           wh_cf.retry_window, wh_cf.nallow);
    sd_notify(0, "READY=1\nSTATUS=relaying " WH_STREAM);

    wh_relay(&wh_cf);

    sd_notify(0, "STOPPING=1");
    wh_log("stopping");
    for (i = 0; i < wh_cf.workers; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_join(reopener, NULL);
    free(threads);
    curl_global_cleanup();
    wh_log("stopped");

    return 0;
}
