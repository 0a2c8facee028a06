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
 * One key per purpose (README, "Keys"): each is HKDF-SHA256 (RFC 5869, no
 * salt, 32 bytes) of the configured signing key with the purpose's label as
 * info.  A key for one purpose says nothing about another's, so an edge
 * host given only the edge key cannot sign uploads.
 */
#define MAM_KEY_DERIVED_LEN   32
#define MAM_KEY_LABEL_EDGE    "mam edge v1"      /* playback URLs */
#define MAM_KEY_LABEL_UPLOAD  "mam upload v1"    /* presigned PUT URLs */
#define MAM_KEY_LABEL_TUS     "mam tus v1"       /* tus URLs */
#define MAM_KEY_LABEL_CURSOR  "mam cursor v1"    /* list cursors */

/*
 * Reads the key in path into buf (cap bytes).  Returns 0 and sets *len, or
 * -1 with a message (never containing key material) in err.
 */
int mam_key_load(const char *path, unsigned char *buf, size_t cap,
    size_t *len, char *err, size_t errlen);

/* HKDF-SHA256 (RFC 5869) of key, salt (may be empty: HashLen zeros) and
 * info into out (outlen bytes, at most 255 * 32); 0 or -1 */
int mam_hkdf_sha256(const unsigned char *key, size_t keylen,
    const unsigned char *salt, size_t saltlen, const unsigned char *info,
    size_t infolen, unsigned char *out, size_t outlen);

/* the key for the purpose label (MAM_KEY_LABEL_*) from the signing key into
 * out (MAM_KEY_DERIVED_LEN bytes); 0 or -1 */
int mam_key_derive(const unsigned char *key, size_t keylen,
    const char *label, unsigned char *out);

/*
 * A derived key as a key file holds it: exactly 2 * MAM_KEY_DERIVED_LEN hex
 * digits (trailing whitespace already removed by mam_key_load).  Decodes
 * text into out (MAM_KEY_DERIVED_LEN bytes); 0, or -1 with a message in err.
 */
int mam_key_from_hex(const unsigned char *text, size_t len,
    unsigned char *out, char *err, size_t errlen);

/* mam_key_load for a secret of at least min bytes (a Redis password) */
int mam_secret_load(const char *path, unsigned char *buf, size_t cap,
    size_t min, size_t *len, char *err, size_t errlen);

#endif
