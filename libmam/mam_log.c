/* The daemons' log (mam_log.h). */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mam_log.h"

static FILE             *mam_log_file;
static pthread_mutex_t   mam_log_lock = PTHREAD_MUTEX_INITIALIZER;


void
mam_log_open(const char *file)
{
    FILE  *f;

    pthread_mutex_lock(&mam_log_lock);
    if (mam_log_file && mam_log_file != stderr) {
        fclose(mam_log_file);
    }
    f = (file && *file) ? fopen(file, "a") : NULL;
    mam_log_file = f ? f : stderr;
    setvbuf(mam_log_file, NULL, _IOLBF, 0);
    pthread_mutex_unlock(&mam_log_lock);
}


int
mam_log_fd(void)
{
    int  fd;

    pthread_mutex_lock(&mam_log_lock);
    fd = mam_log_file ? fileno(mam_log_file) : 2;
    pthread_mutex_unlock(&mam_log_lock);
    return fd;
}


void
mam_logv(const char *name, const char *tag, const char *fmt, va_list ap)
{
    char        ts[32];
    time_t      now;
    struct tm   tm;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&mam_log_lock);
    if (mam_log_file == NULL) {
        mam_log_file = stderr;
    }
    fprintf(mam_log_file, "%s %s[%ld] ", ts, name, (long) getpid());
    if (tag) {
        fprintf(mam_log_file, "%s ", tag);
    }
    vfprintf(mam_log_file, fmt, ap);
    fputc('\n', mam_log_file);
    pthread_mutex_unlock(&mam_log_lock);
}
