/*
 * Resumable uploads on local storage (see mam_partial.h).
 */
#define _GNU_SOURCE
#include "mam_partial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>


int
mam_checksum_parse(const char *value, size_t len, mam_checksum_t *sum)
{
    unsigned char  out[64];
    const char    *sp;
    size_t         alen, blen, want;
    int            n;

    memset(sum, 0, sizeof(*sum));

    sp = memchr(value, ' ', len);
    if (sp == NULL) {
        return -1;
    }

    alen = (size_t) (sp - value);
    blen = len - alen - 1;

    if (alen == 4 && memcmp(value, "sha1", 4) == 0) {
        sum->algo = MAM_DIGEST_SHA1;
        want = 20;

    } else if (alen == 6 && memcmp(value, "sha256", 6) == 0) {
        sum->algo = MAM_DIGEST_SHA256;
        want = 32;

    } else {
        return -2;
    }

    /* standard base64 with its padding: exactly the digest's encoding */
    if (blen != (want + 2) / 3 * 4 || memchr(sp + 1, '\0', blen) != NULL) {
        return -1;
    }

    n = EVP_DecodeBlock(out, (const unsigned char *) sp + 1, (int) blen);
    if (n < 0 || (size_t) n != (want + 2) / 3 * 3) {
        return -1;
    }

    memcpy(sum->digest, out, want);
    sum->len = want;

    return 0;
}


int
mam_partial_path(char *buf, size_t size, const char *staging_path)
{
    int  n;

    n = snprintf(buf, size, "%s.partial", staging_path);

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}


/* the digest of the whole file fd, or -1 */
static int
mam_partial_digest(int fd, int algo, unsigned char *md)
{
    char           buf[1 << 16];
    ssize_t        n;
    EVP_MD_CTX    *ctx;
    const EVP_MD  *type;
    int            rc;

    type = (algo == MAM_DIGEST_SHA1) ? EVP_sha1() : EVP_sha256();

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, type, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }

    rc = 0;

    for ( ;; ) {
        n = read(fd, buf, sizeof(buf));
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -1;
            break;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1) {
            rc = -1;
            break;
        }
    }

    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
        rc = -1;
    }

    EVP_MD_CTX_free(ctx);

    return rc;
}


/* the locked partial's length, or MISSING once it was unlinked */
static int
mam_partial_length(int fd, off_t *length)
{
    struct stat  st;

    if (fstat(fd, &st) != 0) {
        return MAM_STORAGE_ERROR;
    }

    if (st.st_nlink == 0) {
        return MAM_STORAGE_MISSING;
    }

    *length = st.st_size;

    return MAM_STORAGE_OK;
}


int
mam_partial_create(const char *partial, off_t *offset)
{
    int  fd, rc;

    *offset = 0;

    if (mam_local_make_parent(partial) != 0) {
        return MAM_STORAGE_ERROR;
    }

    fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return MAM_STORAGE_OK;
    }

    if (errno != EEXIST) {
        return MAM_STORAGE_ERROR;
    }

    rc = mam_partial_offset(partial, offset);

    return rc == MAM_STORAGE_OK ? MAM_STORAGE_EXISTS : rc;
}


int
mam_partial_offset(const char *partial, off_t *offset)
{
    int  fd, rc;

    *offset = 0;

    fd = open(partial, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
    }

    /* a shared lock, never waited for: never the length of a chunk half
     * copied, and never a pool thread stuck behind a chunk in flight */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        rc = (errno == EWOULDBLOCK) ? MAM_PARTIAL_LOCKED : MAM_STORAGE_ERROR;
        close(fd);
        return rc;
    }

    rc = mam_partial_length(fd, offset);
    close(fd);

    return rc;
}


/* the chunk file's length, after checking its digest */
static int
mam_partial_check_chunk(int in, const mam_checksum_t *sum, off_t *length)
{
    struct stat    st;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        return MAM_STORAGE_ERROR;
    }

    *length = st.st_size;

    if (sum == NULL || sum->algo == MAM_DIGEST_NONE) {
        return MAM_STORAGE_OK;
    }

    if (mam_partial_digest(in, sum->algo, md) != 0
        || lseek(in, 0, SEEK_SET) != 0)
    {
        return MAM_STORAGE_ERROR;
    }

    return CRYPTO_memcmp(md, sum->digest, sum->len) == 0
           ? MAM_STORAGE_OK : MAM_PARTIAL_CHECKSUM;
}


/* the chunk at the end of the locked partial, all or nothing */
static int
mam_partial_write(int fd, int in, off_t offset)
{
    int  saved;

    if (lseek(fd, offset, SEEK_SET) != offset) {
        return MAM_STORAGE_ERROR;
    }

    if (mam_copy_fd(in, fd) == 0 && fdatasync(fd) == 0) {
        return MAM_STORAGE_OK;
    }

    /* if even this fails the partial is longer than any client thinks:
     * its next append is a 409 telling it the true offset */
    saved = errno;
    (void) !ftruncate(fd, offset);
    errno = saved;

    return MAM_STORAGE_ERROR;
}


int
mam_partial_lock(const char *partial, off_t offset, int *fd_out, off_t *now)
{
    int  fd, rc, flags;

    *fd_out = -1;
    *now = 0;

    flags = O_WRONLY | O_CLOEXEC;

    if (offset == 0) {
        /* a client may skip the creation request */
        if (mam_local_make_parent(partial) != 0) {
            return MAM_STORAGE_ERROR;
        }
        flags |= O_CREAT;
    }

    fd = open(partial, flags, 0600);
    if (fd < 0) {
        return errno == ENOENT ? MAM_STORAGE_MISSING : MAM_STORAGE_ERROR;
    }

    /* never two appends at once, never one during a removal; never
     * waited for */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = (errno == EWOULDBLOCK) ? MAM_PARTIAL_LOCKED : MAM_STORAGE_ERROR;
        close(fd);
        return rc;
    }

    rc = mam_partial_length(fd, now);
    if (rc != MAM_STORAGE_OK) {
        close(fd);
        return rc;
    }

    if (*now != offset) {
        close(fd);
        return MAM_PARTIAL_CONFLICT;
    }

    *fd_out = fd;

    return MAM_STORAGE_OK;
}


int
mam_partial_append_locked(int fd, const char *partial, const char *chunk,
    off_t offset, off_t total, const mam_checksum_t *sum,
    const char *staging, off_t *now)
{
    int    in, rc;
    off_t  length, clen;

    *now = 0;

    rc = mam_partial_length(fd, &length);
    if (rc != MAM_STORAGE_OK) {
        return rc;
    }

    *now = length;

    if (length != offset) {
        return MAM_PARTIAL_CONFLICT;
    }

    in = open(chunk, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return MAM_STORAGE_ERROR;
    }

    rc = mam_partial_check_chunk(in, sum, &clen);

    /* offset <= total here: no overflow */
    if (rc == MAM_STORAGE_OK && (offset > total || clen > total - offset)) {
        rc = MAM_PARTIAL_TOO_LARGE;
    }

    if (rc == MAM_STORAGE_OK) {
        rc = mam_partial_write(fd, in, offset);
    }

    close(in);

    if (rc == MAM_STORAGE_OK) {
        *now = offset + clen;

        if (*now == total) {
            /* complete: the same exclusive placement as a single PUT */
            rc = mam_local_place(partial, staging, 0644);
            if (rc == MAM_STORAGE_OK) {
                unlink(partial);
            }
        }
    }

    return rc;
}


int
mam_partial_append(const char *partial, const char *chunk, off_t offset,
    off_t total, const mam_checksum_t *sum, const char *staging, off_t *now)
{
    int  fd, rc;

    rc = mam_partial_lock(partial, offset, &fd, now);
    if (rc != MAM_STORAGE_OK) {
        return rc;
    }

    rc = mam_partial_append_locked(fd, partial, chunk, offset, total, sum,
                                   staging, now);

    close(fd);

    return rc;
}


int
mam_partial_remove(const char *partial)
{
    int  fd, rc;

    fd = open(partial, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = (errno == EWOULDBLOCK) ? MAM_PARTIAL_LOCKED : MAM_STORAGE_ERROR;
        close(fd);
        return rc;
    }

    rc = (unlink(partial) == 0 || errno == ENOENT)
         ? MAM_STORAGE_OK : MAM_STORAGE_ERROR;

    close(fd);

    return rc;
}
