/* One line per event, with the job id, to stderr or a file (reopened on
 * SIGHUP so log rotation works): libmam's daemon log. */
#include <stdio.h>

#include "td.h"
#include "mam_log.h"

void
td_log_open(const char *file)
{
    mam_log_open(file);
}

/* for the renderer child's stderr */
int
td_log_fd(void)
{
    return mam_log_fd();
}

void
td_log(const char *job, const char *fmt, ...)
{
    char     tag[128];
    va_list  ap;

    snprintf(tag, sizeof(tag), "job=%s", job && *job ? job : "-");
    va_start(ap, fmt);
    mam_logv("transcoderd", tag, fmt, ap);
    va_end(ap);
}
