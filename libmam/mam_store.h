/*
 * Storage as one interface for the module and transcoderd: the keys of
 * pipeline.md on a local root or on S3 (one bucket per area), behind the
 * same blocking calls.  The module runs them on its thread pool, transcoderd
 * on its job threads; a mam_store_t is read-only once set up, so any number
 * of threads may share one.
 *
 * What a call may do to an existing object is decided by the key's area,
 * never by the caller:
 *   uploads/, masters/   write-once: a put or promote never replaces an
 *                        object (local: an exclusive link; S3: HEAD, then
 *                        If-None-Match: *); masters are 0444 locally and
 *                        under legal hold on S3 when object lock is on
 *   previews/            replaced: a publish swaps in a whole rendered
 *                        folder (local: one rename; S3: every file, the
 *                        folder's last file last)
 *
 * Results are MAM_STORAGE_* (mam_storage.h), and MAM_PARTIAL_CONFLICT from
 * mam_store_multipart_complete(); on MAM_STORAGE_ERROR errno says why (EIO
 * when S3 failed, ENOTSUP for what a backend does not have), and calls that
 * move files also write a sentence into err (when not NULL).
 */
#ifndef MAM_STORE_H
#define MAM_STORE_H

#include <stddef.h>
#include <sys/types.h>

#include "mam_s3.h"
#include "mam_storage.h"
#include "mam_partial.h"

#define MAM_STORE_ROOT_MAX     1024
#define MAM_STORE_BUCKET_MAX   64
#define MAM_STORE_MAX_PARTS    10000    /* S3's limit */

typedef enum {
    MAM_STORE_LOCAL = 0,
    MAM_STORE_S3
} mam_store_kind_t;

/* the three areas, in the order of mam_s3_buckets / s3_buckets */
typedef enum {
    MAM_STORE_UPLOADS = 0,
    MAM_STORE_MASTERS,
    MAM_STORE_PREVIEWS
} mam_store_area_t;

typedef struct {
    mam_store_kind_t  kind;

    /* local: an absolute path without a trailing slash */
    char              root[MAM_STORE_ROOT_MAX];

    /* S3: the client and a bucket per area */
    mam_s3_t          s3;
    char              bucket[3][MAM_STORE_BUCKET_MAX];
    int               object_lock;      /* legal hold on masters */

    /* S3: a put of this many bytes or more goes up in parts of this size
     * (0: always in one PUT) */
    off_t             part_size;

    /* notable successes (an object sent in parts), for a daemon's log;
     * NULL: none.  Called on the calling thread. */
    void            (*note)(const char *message);
} mam_store_t;


/* --- set-up (in memory only, no I/O) ------------------------------------- */

/* local storage under root: 0, or -1 when root is not absolute or too long
 * (trailing slashes are dropped) */
int mam_store_init_local(mam_store_t *st, const char *root);

/* S3 storage with st->s3 filled in by the caller; buckets staging, masters,
 * previews: 0, or -1 when a name is empty or too long */
int mam_store_init_s3(mam_store_t *st, const char *staging,
    const char *masters, const char *previews);


/* --- keys (pure, safe in any thread and in an event loop) ----------------- */

/* the area of a key, or -1 when it starts with none */
int mam_store_area(const char *key);

/* 1 when objects of key's area are never replaced */
int mam_store_write_once(const char *key);

/* the bucket of a key's area (S3), or NULL; points into st */
const char *mam_store_bucket(const mam_store_t *st, const char *key);

/* "{root}/{key}" (local): 0, or -1 when the key is invalid or it does not
 * fit */
int mam_store_path(const mam_store_t *st, const char *key, char *buf,
    size_t size);

/* the Content-Type of a key by its extension; never NULL */
const char *mam_store_content_type(const char *key);


/* --- objects (blocking) --------------------------------------------------- */

/*
 * The local file at key, as its area allows (write-once: EXISTS when it is
 * there).  On S3 it goes up with the key's content type and encryption, in
 * parts from st->part_size (an unfinished multipart upload is aborted).
 */
int mam_store_put(const mam_store_t *st, const char *file, const char *key,
    char *err, size_t len);

/* from_key's object at key, write-once (EXISTS; MISSING when from_key is
 * absent), then from_key removed */
int mam_store_promote(const mam_store_t *st, const char *from_key,
    const char *key);

/* the object at key (absent is success) */
int mam_store_remove(const mam_store_t *st, const char *key);

/* every object under the folder key ("key/..."; absent is success) */
int mam_store_remove_folder(const mam_store_t *st, const char *key);

/* *size of key's object, -1 when absent (still OK) */
int mam_store_size(const mam_store_t *st, const char *key, off_t *size);

/* key's object into the local file (created or truncated) */
int mam_store_download(const mam_store_t *st, const char *key,
    const char *file, char *err, size_t len);

/*
 * The files under the local folder dir at prefix/..., the index files
 * (*.m3u8, *.vtt) after all others and the top-level file named last
 * (when not NULL) after those, so a reader who finds an index finds all
 * it names.  Folders and regular files only.
 */
int mam_store_upload_tree(const mam_store_t *st, const char *dir,
    const char *prefix, const char *last, char *err, size_t len);

/*
 * A rendered folder becomes the folder prefix, replacing what was there.
 * Local: dir (on the root's file system) is renamed into place at once,
 * the previous folder removed afterwards.  S3: mam_store_upload_tree();
 * dir is left to the caller.
 */
int mam_store_publish(const mam_store_t *st, const char *dir,
    const char *prefix, const char *last, char *err, size_t len);


/* --- multipart uploads of a staging key (S3 only; ENOTSUP locally) --------- */

/* encryption is named here, for the whole object: S3 refuses the SSE
 * headers on part PUTs */
int mam_store_multipart_create(const mam_store_t *st, const char *key,
    const char *content_type, char *upload_id, size_t size);

/* the parts S3 holds (every page) into parts[0..max): OK, MISSING when the
 * upload is unknown (ended), ERROR (also when more than max) */
int mam_store_multipart_list(const mam_store_t *st, const char *key,
    const char *upload_id, mam_s3_part_t *parts, size_t max, size_t *n);

/*
 * Lists the parts; unless they are 1..n, each of part_size but the last,
 * total bytes in all: MAM_PARTIAL_CONFLICT.  Else completes the upload and
 * puts the object's size (HEAD) in *size.  OK, CONFLICT, MISSING, ERROR;
 * *n is the number of parts listed.
 */
int mam_store_multipart_complete(const mam_store_t *st, const char *key,
    const char *upload_id, off_t total, off_t part_size,
    mam_s3_part_t *parts, size_t max, size_t *n, off_t *size);

/* absent (already ended) is success */
int mam_store_multipart_abort(const mam_store_t *st, const char *key,
    const char *upload_id);

#endif
