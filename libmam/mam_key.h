/*
 * Key files: the secret is the file's content without trailing whitespace,
 * used as bytes (operations.md).
 */
#ifndef MAM_KEY_H
#define MAM_KEY_H

#include <stddef.h>

#define MAM_KEY_MIN_LEN  32
#define MAM_KEY_MAX_LEN  1024

/*
 * Reads the key in path into buf (cap bytes).  Returns 0 and sets *len, or
 * -1 with a message (never containing key material) in err.
 */
int mam_key_load(const char *path, unsigned char *buf, size_t cap,
    size_t *len, char *err, size_t errlen);

/* the same for a secret of at least min bytes (a Redis password) */
int mam_secret_load(const char *path, unsigned char *buf, size_t cap,
    size_t min, size_t *len, char *err, size_t errlen);

#endif
