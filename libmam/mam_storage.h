/*
 * Local storage: keys of pipeline.md mapped to files under one root
 * ({root}/uploads/..., {root}/masters/..., {root}/previews/...), and the
 * blocking file operations the module runs on its thread pool.  The key
 * prefixes are the three areas (staging, masters, previews).
 */
#ifndef MAM_STORAGE_H
#define MAM_STORAGE_H

#include <stddef.h>
#include <sys/types.h>

#define MAM_KEY_MAX_LEN        1024
#define MAM_SAFE_NAME_MAX      100

/* the three areas: every key starts with one of these */
#define MAM_AREA_UPLOADS       "uploads/"      /* staging */
#define MAM_AREA_MASTERS       "masters/"
#define MAM_AREA_PREVIEWS      "previews/"

#define MAM_STORAGE_OK         0
#define MAM_STORAGE_ERROR      (-1)    /* errno says why */
#define MAM_STORAGE_EXISTS     (-2)    /* the destination already exists */
#define MAM_STORAGE_MISSING    (-3)    /* the source does not exist */

/* 1 when key is relative, of [A-Za-z0-9._-] segments, none empty, "." or
 * "..", at most MAM_KEY_MAX_LEN bytes */
int mam_key_valid(const char *key, size_t len);

/* "{root}/{key}" into buf; -1 when it does not fit or the key is bad */
int mam_local_path(char *buf, size_t size, const char *root, const char *key);

/*
 * A client's file name as a safe last key segment: [A-Za-z0-9._-] kept,
 * other runs become one '_', no leading dot, at most MAM_SAFE_NAME_MAX
 * bytes with the extension kept; "upload" when nothing is left.  out must
 * hold MAM_SAFE_NAME_MAX + 1 bytes.
 */
void mam_safe_filename(const char *name, size_t len, char *out);

/* ".ext" of a safe name (lower-cased, at most 10 characters) or "" */
void mam_key_extension(const char *key, char *out, size_t size);

/*
 * Puts the complete file src at dst exclusively (never replacing dst):
 * a hard link when both are on one file system, else a copy through a
 * temporary file; src is synced first, the directory after.  Parent
 * directories are created.  mode is applied to dst.  src is left alone.
 */
int mam_local_place(const char *src, const char *dst, mode_t mode);

/* the directories above path, created as needed (0755) */
int mam_local_make_parent(const char *path);

/* unlink, ENOENT being success */
int mam_local_remove(const char *path);

/* a directory tree, bottom up, not following links; ENOENT is success */
int mam_local_remove_tree(const char *path);

/* in's remaining bytes appended to out's position; 0 or -1 (errno) */
int mam_copy_fd(int in, int out);

/* the size of a regular file, or -1 */
off_t mam_local_size(const char *path);

#endif
