/* One line per event to stderr or log_file (reopened on SIGHUP, so log
 * rotation works): libmam's daemon log.  Secrets and bodies are never
 * logged. */
#include "wh.h"
#include "mam_log.h"

void
wh_log_open(const char *file)
{
    mam_log_open(file);
}

void
wh_log(const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    mam_logv("webhookd", NULL, fmt, ap);
    va_end(ap);
}
