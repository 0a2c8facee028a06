/*
 * Resumable uploads on local storage (tus 1.0): the bytes received so far
 * live in one "partial" file next to the upload's staging key, and each
 * chunk is appended whole or not at all.  An exclusive flock() on the
 * partial serialises appends, removals and offset reads across every
 * worker and host sharing the directory.  Blocking: the module runs these
 * on its thread pool.
 */
#ifndef MAM_PARTIAL_H
#define MAM_PARTIAL_H

#include <stddef.h>
#include <sys/types.h>

#include "mam_storage.h"

#define MAM_PARTIAL_CONFLICT   (-10)   /* the offset is not the partial's */
#define MAM_PARTIAL_LOCKED     (-11)   /* another request holds it */
#define MAM_PARTIAL_CHECKSUM   (-12)   /* the chunk's digest differs */
#define MAM_PARTIAL_TOO_LARGE  (-13)   /* past the upload's length */

#define MAM_DIGEST_NONE        0
#define MAM_DIGEST_SHA1        1
#define MAM_DIGEST_SHA256      2

#define MAM_DIGEST_MAX         32

typedef struct {
    int            algo;                    /* MAM_DIGEST_* */
    size_t         len;
    unsigned char  digest[MAM_DIGEST_MAX];
} mam_checksum_t;

/*
 * tus' "Upload-Checksum: {algorithm} {base64 digest}": 0, -1 when
 * malformed (or the digest has the wrong length), -2 when the algorithm
 * is neither sha1 nor sha256.
 */
int mam_checksum_parse(const char *value, size_t len, mam_checksum_t *sum);

/* the partial's path for a staging file path ("{path}.partial") */
int mam_partial_path(char *buf, size_t size, const char *staging_path);

/* creates an empty partial: OK, EXISTS (then *offset is its length) */
int mam_partial_create(const char *partial, off_t *offset);

/*
 * The partial's length, MISSING, or LOCKED while a chunk is being received
 * or appended (never waited for).
 */
int mam_partial_offset(const char *partial, off_t *offset);

/*
 * Appends the chunk file at offset (the partial is created for offset 0)
 * after checking sum (when given); when the partial reaches total it is
 * placed at staging (exclusively, 0644) and removed.  *offset is the
 * partial's length afterwards (also on CONFLICT).  OK, MISSING,
 * CONFLICT, LOCKED, CHECKSUM, TOO_LARGE, EXISTS, ERROR.
 */
int mam_partial_append(const char *partial, const char *chunk, off_t offset,
    off_t total, const mam_checksum_t *sum, const char *staging,
    off_t *now);

/*
 * The partial opened (created for offset 0) and locked exclusively without
 * waiting, for one chunk: OK with *fd (the lock lives as long as it is
 * open), LOCKED, MISSING, or CONFLICT when its length (*now) is not
 * offset.  The tus module takes it before it reads a chunk's body.
 */
int mam_partial_lock(const char *partial, off_t offset, int *fd, off_t *now);

/* mam_partial_append() on a partial locked by mam_partial_lock(); fd stays
 * open */
int mam_partial_append_locked(int fd, const char *partial, const char *chunk,
    off_t offset, off_t total, const mam_checksum_t *sum,
    const char *staging, off_t *now);

/* termination: OK (also when absent) or LOCKED while a chunk is appended */
int mam_partial_remove(const char *partial);

#endif
