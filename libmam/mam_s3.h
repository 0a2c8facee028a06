/*
 * A small, blocking S3 client over libcurl and mam_sigv4: HEAD, GET to a
 * file, PUT from a file, server-side COPY, DELETE, ListObjectsV2, and
 * presigned URLs.  The module runs it on its thread pool, transcoderd on
 * its job threads.  Credentials are never logged.
 */
#ifndef MAM_S3_H
#define MAM_S3_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "mam_sigv4.h"

typedef struct {
    char  scheme[8];          /* http or https */
    char  host[256];          /* host[:port] of the endpoint */
    char  region[64];
    char  access_key[128];
    char  secret_key[256];
    int   path_style;
    char  sse[16];            /* "AES256" (also when empty) or "aws:kms" */
    char  sse_kms_key[256];   /* aws:kms: the key id, or "" */

    /* deadlines of every call (0: the defaults below): a request without
     * a body to move must end within timeout_ms; one that moves a file
     * gets timeout_ms plus its size at low_speed_limit bytes/s (a large
     * transfer is bounded by its speed, not by a short total), and any
     * call is dropped once slower than low_speed_limit for
     * low_speed_time seconds */
    long  timeout_ms;
    long  low_speed_limit;
    long  low_speed_time;
} mam_s3_t;

#define MAM_S3_TIMEOUT_MS       60000
#define MAM_S3_LOW_SPEED_LIMIT  1024
#define MAM_S3_LOW_SPEED_TIME   30

/* server-side encryption: "AES256", "aws:kms" or "aws:kms KEY_ID"; 0 or
 * -1 (unknown algorithm, a key id without aws:kms, too long) */
int mam_s3_set_sse(mam_s3_t *s3, const char *spec);

/*
 * The headers that ask for s3's server-side encryption on a write (PUT
 * object, copy, CreateMultipartUpload; never UploadPart): one or two pairs
 * appended at h[*n], *n advanced; -1 when fewer than two places are left
 * (max is h's size).
 */
int mam_s3_sse_headers(const mam_s3_t *s3, mam_sigv4_pair_t *h, size_t *n,
    size_t max);

/* "http(s)://host[:port]" */
int mam_s3_set_endpoint(mam_s3_t *s3, const char *endpoint);

/* a file of "access_key_id = ..." and "secret_access_key = ..." lines */
int mam_s3_load_credentials(mam_s3_t *s3, const char *file, char *err,
    size_t len);

typedef struct {
    const char        *method;
    const char        *bucket;
    const char        *key;          /* "" for the bucket itself */
    mam_sigv4_pair_t   headers[8];
    size_t             nheaders;
    mam_sigv4_pair_t   query[8];
    size_t             nquery;
    FILE              *upload;       /* PUT/POST body, or NULL */
    off_t              upload_size;  /* bytes read from upload */
    FILE              *download;     /* GET body goes here, or NULL */
    char              *body;         /* else a small body goes here */
    size_t             body_size;

    /* results */
    long               status;       /* HTTP status, 0 when unreachable */
    off_t              content_length;
    char               etag[128];
    char               error[256];
} mam_s3_req_t;

/* 0 when a response came (see req->status), -1 otherwise */
int mam_s3_perform(const mam_s3_t *s3, mam_s3_req_t *req);

/* a presigned URL for method on bucket/key with the given signed headers */
int mam_s3_presign(const mam_s3_t *s3, const char *method, const char *bucket,
    const char *key, const mam_sigv4_pair_t *headers, size_t nheaders,
    long expires, char *url, size_t size);

/* the same with query parameters signed in (at most 4) */
int mam_s3_presign_query(const mam_s3_t *s3, const char *method,
    const char *bucket, const char *key, const mam_sigv4_pair_t *headers,
    size_t nheaders, const mam_sigv4_pair_t *params, size_t nparams,
    long expires, char *url, size_t size);

/* the text between <tag> and </tag> of a small S3 XML answer */
int mam_s3_xml_value(const char *body, const char *tag, char *out,
    size_t size);

/* multipart uploads */
typedef struct {
    int    number;
    off_t  size;
    char   etag[80];
} mam_s3_part_t;

int mam_s3_multipart_create(const mam_s3_t *s3, const char *bucket,
    const char *key, const mam_sigv4_pair_t *headers, size_t nheaders,
    char *upload_id, size_t size);
/* UploadPart: size bytes of f from offset as part number; its ETag into
 * etag (size etag_size) */
int mam_s3_multipart_upload_part(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, int number, FILE *f,
    off_t offset, off_t size, char *etag, size_t etag_size);
int mam_s3_multipart_complete(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, const mam_s3_part_t *parts,
    size_t nparts);
int mam_s3_multipart_abort(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id);
/* ListParts, every page: 0, -2 when the upload is unknown, -1 */
int mam_s3_multipart_list(const mam_s3_t *s3, const char *bucket,
    const char *key, const char *upload_id, mam_s3_part_t *parts,
    size_t max, size_t *n);

#endif
