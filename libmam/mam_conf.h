/*
 * The daemons' configuration files (transcoderd.conf, webhookd.conf):
 * "key = value" lines, '#' comments, blank lines.  Each key goes to the
 * daemon's own setter; an unknown key or a bad value is an error naming
 * the file and the line, so a typo never falls back to a default.
 */
#ifndef MAM_CONF_H
#define MAM_CONF_H

#include <stddef.h>

/* 0 taken; -1 a bad value (the reader says so); -2 err holds why */
typedef int (*mam_conf_set_pt)(void *data, const char *key,
    const char *value, char *err, size_t len);

/* every line of path through set: 0, or -1 with err */
int mam_conf_read(const char *path, mam_conf_set_pt set, void *data,
    char *err, size_t len);

/* a decimal integer lo..hi: 0, or -1 */
int mam_conf_int(const char *v, int lo, int hi, int *out);

/* s without the white space around it (cut in place) */
char *mam_conf_trim(char *s);

/* v into dst when it fits: 0, or -1 */
int mam_conf_copy(char *dst, size_t size, const char *v);

#endif
