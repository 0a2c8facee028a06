/* One line per event to stderr or log_file (reopened on SIGHUP, so log
 * rotation works).  Secrets and bodies are never logged. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "wh.h"

static FILE             *wh_log_file;
static pthread_mutex_t   wh_log_lock = PTHREAD_MUTEX_INITIALIZER;

void
wh_log_open(const char *file)
{
    FILE  *f;

    pthread_mutex_lock(&wh_log_lock);
    if (wh_log_file && wh_log_file != stderr) {
        fclose(wh_log_file);
    }
    f = (file && *file) ? fopen(file, "a") : NULL;
    wh_log_file = f ? f : stderr;
    setvbuf(wh_log_file, NULL, _IOLBF, 0);
    pthread_mutex_unlock(&wh_log_lock);
}

void
wh_log(const char *fmt, ...)
{
    char        ts[32];
    time_t      now;
    struct tm   tm;
    va_list     ap;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&wh_log_lock);
    if (wh_log_file == NULL) {
        wh_log_file = stderr;
    }
    fprintf(wh_log_file, "%s webhookd[%ld] ", ts, (long) getpid());
    va_start(ap, fmt);
    vfprintf(wh_log_file, fmt, ap);
    va_end(ap);
    fputc('\n', wh_log_file);
    pthread_mutex_unlock(&wh_log_lock);
}
