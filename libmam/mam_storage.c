/*
 * Local storage operations (see mam_storage.h).  Blocking: the module calls
 * them on its thread pool, transcoderd from its own threads.
 */
#define _XOPEN_SOURCE 700
#include "mam_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
mam_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
mam_key_valid(const char *key, size_t len)
{
    size_t  i, seg;

    if (len == 0 || len > MAM_KEY_MAX_LEN) {
        return 0;
    }

    seg = 0;
    for (i = 0; i <= len; i++) {
        if (i == len || key[i] == '/') {
            if (seg == 0
                || (seg == 1 && key[i - 1] == '.')
                || (seg == 2 && key[i - 1] == '.' && key[i - 2] == '.'))
            {
                return 0;
            }
            seg = 0;
            continue;
        }
        if (!mam_key_char((unsigned char) key[i])) {
            return 0;
        }
        seg++;
    }

    return 1;
}

int
mam_local_path(char *buf, size_t size, const char *root, const char *key)
{
    int  n;

    if (!mam_key_valid(key, strlen(key))) {
        return -1;
    }

    n = snprintf(buf, size, "%s/%s", root, key);

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}

void
mam_safe_filename(const char *name, size_t len, char *out)
{
    char         buf[4 * MAM_SAFE_NAME_MAX + 1];
    size_t       i, n, start, extlen;
    const char  *dot;

    /* only the last path component counts */
    start = 0;
    for (i = 0; i < len; i++) {
        if (name[i] == '/' || name[i] == '\\') {
            start = i + 1;
        }
    }

    n = 0;
    for (i = start; i < len && n < sizeof(buf) - 2; i++) {
        if (mam_key_char((unsigned char) name[i])) {
            if (n > 0 || name[i] != '.') {
                buf[n++] = name[i];
            }
        } else if (n > 0 && buf[n - 1] != '_') {
            buf[n++] = '_';
        }
    }
    buf[n] = '\0';

    if (n == 0) {
        strcpy(out, "upload");
        return;
    }

    if (n <= MAM_SAFE_NAME_MAX) {
        memcpy(out, buf, n + 1);
        return;
    }

    /* too long: cut the stem, keep a short extension */
    dot = strrchr(buf, '.');
    extlen = dot ? strlen(dot) : 0;
    if (extlen > 11) {
        extlen = 0;
    }
    memcpy(out, buf, MAM_SAFE_NAME_MAX - extlen);
    memcpy(out + MAM_SAFE_NAME_MAX - extlen, buf + n - extlen, extlen);
    out[MAM_SAFE_NAME_MAX] = '\0';
}

void
mam_key_extension(const char *key, char *out, size_t size)
{
    const char  *slash, *dot;
    size_t       i, n;

    out[0] = '\0';

    slash = strrchr(key, '/');
    dot = strrchr(slash ? slash : key, '.');
    if (dot == NULL || dot == (slash ? slash + 1 : key)) {
        return;
    }

    n = strlen(dot);
    if (n < 2 || n > 11 || n >= size) {
        return;
    }

    for (i = 0; i < n; i++) {
        char c = dot[i];

        if (i > 0 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                       || (c >= '0' && c <= '9')))
        {
            out[0] = '\0';
            return;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

/* mkdir -p of path's parent directory */
int
mam_local_make_parent(const char *path)
{
    char   dir[PATH_MAX];
    char  *p;

    if (strlen(path) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(dir, path);

    p = strrchr(dir, '/');
    if (p == NULL || p == dir) {
        return 0;
    }
    *p = '\0';

    for (p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            return -1;
        }
        *p = '/';
    }

    return (mkdir(dir, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

static int
mam_sync_path(const char *path, int flags)
{
    int  fd, rc;

    fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int
mam_sync_parent(const char *path)
{
    char   dir[PATH_MAX];
    char  *p;

    if (strlen(path) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(dir, path);
    p = strrchr(dir, '/');
    if (p == NULL) {
        return 0;
    }
    *p = '\0';

    return mam_sync_path(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
}

int
mam_copy_fd(int in, int out)
{
    char     buf[1 << 16];
    ssize_t  n, w, off;

    for ( ;; ) {
        n = read(in, buf, sizeof(buf));
        if (n == 0) {
            return 0;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        for (off = 0; off < n; off += w) {
            w = write(out, buf + off, (size_t) (n - off));
            if (w < 0) {
                if (errno == EINTR) {
                    w = 0;
                    continue;
                }
                return -1;
            }
        }
    }
}

/* src on another file system: copy to a temporary name, then link it */
static int
mam_place_by_copy(const char *src, const char *dst)
{
    char  tmp[PATH_MAX];
    int   in, out, rc, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst, (long) getpid())
        >= (int) sizeof(tmp))
    {
        errno = ENAMETOOLONG;
        return MAM_STORAGE_ERROR;
    }

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
    }

    unlink(tmp);
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        saved = errno;
        close(in);
        errno = saved;
        return MAM_STORAGE_ERROR;
    }

    rc = mam_copy_fd(in, out);
    if (rc == 0) {
        rc = fsync(out);
    }
    saved = errno;
    close(in);
    if (close(out) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }

    if (rc == 0 && link(tmp, dst) != 0) {
        rc = (errno == EEXIST) ? MAM_STORAGE_EXISTS : MAM_STORAGE_ERROR;
        saved = errno;
    }

    unlink(tmp);
    errno = saved;

    return rc;
}

int
mam_local_place(const char *src, const char *dst, mode_t mode)
{
    int  rc;

    if (mam_local_make_parent(dst) != 0) {
        return MAM_STORAGE_ERROR;
    }

    if (mam_sync_path(src, O_RDONLY) != 0) {
        return errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
    }

    /* link() never replaces an existing name: the write-once rule */
    if (link(src, dst) != 0) {
        if (errno == EEXIST) {
            return MAM_STORAGE_EXISTS;
        }
        if (errno == ENOENT) {
            return MAM_STORAGE_MISSING;
        }
        if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
            return MAM_STORAGE_ERROR;
        }
        rc = mam_place_by_copy(src, dst);
        if (rc != MAM_STORAGE_OK) {
            return rc;
        }
    }

    if (chmod(dst, mode) != 0 || mam_sync_parent(dst) != 0) {
        return MAM_STORAGE_ERROR;
    }

    return MAM_STORAGE_OK;
}

int
mam_local_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT) {
        return MAM_STORAGE_ERROR;
    }
    return MAM_STORAGE_OK;
}

static int
mam_remove_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
    (void) st;
    (void) ftw;

    if (type == FTW_DP) {
        return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
    }
    return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

int
mam_local_remove_tree(const char *path)
{
    struct stat  st;

    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;
    }

    return nftw(path, mam_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0
           ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;
}

off_t
mam_local_size(const char *path)
{
    struct stat  st;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return -1;
    }
    return st.st_size;
}
