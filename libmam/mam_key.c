#include "mam_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
mam_key_is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int
mam_key_load(const char *path, unsigned char *buf, size_t cap, size_t *len,
    char *err, size_t errlen)
{
    return mam_secret_load(path, buf, cap, MAM_KEY_MIN_LEN, len, err, errlen);
}

int
mam_secret_load(const char *path, unsigned char *buf, size_t cap, size_t min,
    size_t *len, char *err, size_t errlen)
{
    int          fd;
    size_t       n;
    ssize_t      got;
    struct stat  st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "\"%s\" is not a regular file", path);
        close(fd);
        return -1;
    }

    n = 0;
    for ( ;; ) {
        if (n == cap) {
            snprintf(err, errlen, "\"%s\" is longer than %zu bytes", path,
                     cap);
            close(fd);
            return -1;
        }

        got = read(fd, buf + n, cap - n);
        if (got == -1 && errno == EINTR) {
            continue;
        }
        if (got == -1) {
            snprintf(err, errlen, "cannot read \"%s\": %s", path,
                     strerror(errno));
            close(fd);
            return -1;
        }
        if (got == 0) {
            break;
        }
        n += (size_t) got;
    }

    close(fd);

    while (n > 0 && mam_key_is_space(buf[n - 1])) {
        n--;
    }

    if (n < min) {
        snprintf(err, errlen, "%s in \"%s\" is shorter than %zu byte%s",
                 min == MAM_KEY_MIN_LEN ? "key" : "secret", path, min,
                 min == 1 ? "" : "s");
        return -1;
    }

    *len = n;
    return 0;
}
