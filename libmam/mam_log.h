/*
 * The daemons' log (transcoderd, webhookd): one line per event,
 * "TIME NAME[PID] [TAG ]message", to stderr or a file that SIGHUP reopens
 * (log rotation).  Threads may log at once: each line is written whole.
 */
#ifndef MAM_LOG_H
#define MAM_LOG_H

#include <stdarg.h>

/* file, or stderr for NULL, "" or a file that cannot be opened */
void mam_log_open(const char *file);

/* the log's descriptor (a child's stderr) */
int mam_log_fd(void);

/* a line of daemon name, with tag (NULL: none) before the message */
void mam_logv(const char *name, const char *tag, const char *fmt,
    va_list ap);

#endif
