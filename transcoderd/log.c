/* One line per event, with the job id, to stderr or a file (reopened on
 * SIGHUP so log rotation works). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"

static FILE             *td_log_file;
static pthread_mutex_t   td_log_lock = PTHREAD_MUTEX_INITIALIZER;

void
td_log_open(const char *file)
{
    FILE  *f;

    pthread_mutex_lock(&td_log_lock);
    if (td_log_file && td_log_file != stderr) {
        fclose(td_log_file);
    }
    f = (file && *file) ? fopen(file, "a") : NULL;
    td_log_file = f ? f : stderr;
    setvbuf(td_log_file, NULL, _IOLBF, 0);
    pthread_mutex_unlock(&td_log_lock);
}

/* for the renderer child's stderr */
int
td_log_fd(void)
{
    int  fd;

    pthread_mutex_lock(&td_log_lock);
    fd = td_log_file ? fileno(td_log_file) : 2;
    pthread_mutex_unlock(&td_log_lock);
    return fd;
}

void
td_log(const char *job, const char *fmt, ...)
{
    char        ts[32];
    time_t      now;
    struct tm   tm;
    va_list     ap;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&td_log_lock);
    if (td_log_file == NULL) {
        td_log_file = stderr;
    }
    fprintf(td_log_file, "%s transcoderd[%ld] job=%s ", ts, (long) getpid(),
            job && *job ? job : "-");
    va_start(ap, fmt);
    vfprintf(td_log_file, fmt, ap);
    va_end(ap);
    fputc('\n', td_log_file);
    pthread_mutex_unlock(&td_log_lock);
}
