/* The daemons' "key = value" configuration files (mam_conf.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mam_conf.h"


int
mam_conf_copy(char *dst, size_t size, const char *v)
{
    if (strlen(v) >= size) {
        return -1;
    }
    strcpy(dst, v);
    return 0;
}


int
mam_conf_int(const char *v, int lo, int hi, int *out)
{
    char  *end;
    long   n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *v == '\0' || *end != '\0' || n < lo || n > hi) {
        return -1;
    }
    *out = (int) n;
    return 0;
}


char *
mam_conf_trim(char *s)
{
    char  *e;

    while (isspace((unsigned char) *s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        *--e = '\0';
    }
    return s;
}


/* one line: 0, or -1 with err */
static int
mam_conf_line(const char *path, int n, char *line, mam_conf_set_pt set,
    void *data, char *err, size_t len)
{
    int    rc;
    char  *p, *k, *v, why[512];

    p = strchr(line, '#');
    if (p) {
        *p = '\0';
    }
    p = mam_conf_trim(line);
    if (*p == '\0') {
        return 0;
    }

    v = strchr(p, '=');
    if (v == NULL) {
        snprintf(err, len, "%s:%d: expected key = value", path, n);
        return -1;
    }
    *v++ = '\0';
    k = mam_conf_trim(p);
    v = mam_conf_trim(v);

    why[0] = '\0';
    rc = set(data, k, v, why, sizeof(why));
    if (rc == -1) {
        snprintf(err, len, "%s:%d: bad value for %s", path, n, k);
    } else if (rc != 0) {
        snprintf(err, len, "%s:%d: %s", path, n, why);
    }
    return rc == 0 ? 0 : -1;
}


int
mam_conf_read(const char *path, mam_conf_set_pt set, void *data, char *err,
    size_t len)
{
    int    n, rc = 0;
    FILE  *f;
    char   line[2048];

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, len, "%s: %s", path, strerror(errno));
        return -1;
    }

    for (n = 1; rc == 0 && fgets(line, sizeof(line), f); n++) {
        rc = mam_conf_line(path, n, line, set, data, err, len);
    }
    fclose(f);

    return rc;
}
