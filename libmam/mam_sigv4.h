/*
 * AWS Signature Version 4 for S3 (headers-signed requests and presigned
 * URLs): canonical request, string to sign, signing key, over OpenSSL's
 * SHA-256 and HMAC.  Nothing here does I/O.
 */
#ifndef MAM_SIGV4_H
#define MAM_SIGV4_H

#include <stddef.h>
#include <time.h>

#define MAM_SIGV4_UNSIGNED  "UNSIGNED-PAYLOAD"
#define MAM_SIGV4_EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    const char  *access_key;
    const char  *secret_key;
    const char  *region;
    const char  *service;       /* "s3" */
} mam_sigv4_creds_t;

typedef struct {
    const char  *name;
    const char  *value;
} mam_sigv4_pair_t;

#define MAM_SIGV4_MAX_PAIRS  24

typedef struct {
    const char        *method;
    const char        *path;        /* not yet encoded; starts with '/' */
    mam_sigv4_pair_t   query[MAM_SIGV4_MAX_PAIRS];   /* not yet encoded */
    size_t             nquery;
    mam_sigv4_pair_t   headers[MAM_SIGV4_MAX_PAIRS]; /* host among them */
    size_t             nheaders;
    const char        *payload_hash;   /* hex SHA-256, or UNSIGNED-PAYLOAD */
} mam_sigv4_req_t;

/* S3's UriEncode of s (len bytes) into out; '/' kept when keep_slash.
 * Returns the length, or -1 when it does not fit. */
long mam_sigv4_uri_encode(const char *s, size_t len, int keep_slash,
    char *out, size_t size);

/* "YYYYMMDDTHHMMSSZ" of t */
void mam_sigv4_amz_date(time_t t, char out[17]);

/*
 * The signature (64 hex) of req at amz_date; signed_headers receives the
 * ";"-joined lower-case names; canonical (optional) the canonical request.
 * 0 or -1.
 */
int mam_sigv4_sign(const mam_sigv4_creds_t *c, const mam_sigv4_req_t *req,
    const char *amz_date, char sig[65], char *signed_headers, size_t shlen,
    char *canonical, size_t clen);

/* the Authorization header value of req at amz_date; 0 or -1 */
int mam_sigv4_authorization(const mam_sigv4_creds_t *c,
    const mam_sigv4_req_t *req, const char *amz_date, char *out,
    size_t size);

/*
 * A presigned URL's query string (X-Amz-* parameters and the signature,
 * encoded, after req's own query parameters) for req at amz_date, valid
 * for expires seconds.  req->payload_hash is ignored (UNSIGNED-PAYLOAD).
 * 0 or -1.
 */
int mam_sigv4_presign(const mam_sigv4_creds_t *c, const mam_sigv4_req_t *req,
    const char *amz_date, long expires, char *out, size_t size);

#endif
