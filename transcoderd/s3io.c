/*
 * transcoderd on S3 storage: the master is downloaded (streamed to a
 * scratch file) and the rendered folder uploaded to the previews bucket
 * with server-side encryption, segments and rendition playlists first and
 * the master playlist last, so the edge never finds a master that points
 * at missing files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "td.h"
#include "mam_edge.h"

int
td_s3_download(const td_config_t *cf, const char *key, const char *path,
    char *err, size_t len)
{
    FILE          *f;
    mam_s3_req_t   req;

    f = fopen(path, "wb");
    if (f == NULL) {
        snprintf(err, len, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.bucket = cf->s3_bucket[1];
    req.key = key;
    req.download = f;

    if (mam_s3_perform(&cf->s3, &req) != 0 || req.status != 200) {
        fclose(f);
        snprintf(err, len, "cannot read the master from S3 (%s)",
                 req.status ? "HTTP error" : req.error);
        return -1;
    }

    return fclose(f) == 0 ? 0 : -1;
}

/* a large object in parts: create, parts of s3_multipart bytes, complete
 * (or abort, so no half object and no billed parts stay behind) */
static int
td_s3_put_multipart(const td_config_t *cf, FILE *f, off_t size,
    const char *key, const char *type, char *err, size_t len)
{
    int               part;
    long              psize;
    char              upload_id[512], num[16];
    off_t             off;
    size_t            nparts;
    mam_s3_req_t      req;
    mam_s3_part_t    *parts;
    size_t            nh;
    mam_sigv4_pair_t  h[3];

    /* the object's encryption (s3_sse) is named at create, not per part */
    h[0] = (mam_sigv4_pair_t) { "content-type", type };
    nh = 1;

    if (mam_s3_sse_headers(&cf->s3, h, &nh, 3) != 0
        || mam_s3_multipart_create(&cf->s3, cf->s3_bucket[2], key, h, nh,
                                   upload_id, sizeof(upload_id))
           != 0)
    {
        snprintf(err, len, "cannot start a multipart upload of %s", key);
        return -1;
    }

    psize = cf->s3_multipart;
    parts = calloc((size_t) (size / psize + 1), sizeof(mam_s3_part_t));
    if (parts == NULL) {
        goto abort;
    }

    for (part = 1, off = 0, nparts = 0; off < size; part++, off += psize) {
        if (fseeko(f, off, SEEK_SET) != 0) {
            goto abort;
        }
        snprintf(num, sizeof(num), "%d", part);
        memset(&req, 0, sizeof(req));
        req.method = "PUT";
        req.bucket = cf->s3_bucket[2];
        req.key = key;
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "partNumber", num };
        req.query[req.nquery++] = (mam_sigv4_pair_t) { "uploadId", upload_id };
        req.upload = f;
        req.upload_size = size - off < psize ? size - off : psize;
        if (mam_s3_perform(&cf->s3, &req) != 0 || req.status != 200
            || !req.etag[0])
        {
            snprintf(err, len, "part %d of %s failed", part, key);
            goto abort;
        }
        parts[nparts].number = part;
        snprintf(parts[nparts].etag, sizeof(parts[nparts].etag), "%s",
                 req.etag);
        nparts++;
    }

    if (mam_s3_multipart_complete(&cf->s3, cf->s3_bucket[2], key, upload_id,
                                  parts, nparts)
        == 0)
    {
        free(parts);
        return 0;
    }

    snprintf(err, len, "cannot complete the multipart upload of %s", key);

abort:
    free(parts);
    (void) mam_s3_multipart_abort(&cf->s3, cf->s3_bucket[2], key, upload_id);
    if (!err[0]) {
        snprintf(err, len, "multipart upload of %s failed", key);
    }
    return -1;
}

static int
td_s3_put(const td_config_t *cf, const char *file, const char *key, char *err,
    size_t len)
{
    FILE          *f;
    struct stat    st;
    const char    *type;
    mam_s3_req_t   req;

    f = fopen(file, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        if (f) {
            fclose(f);
        }
        snprintf(err, len, "cannot read %s", file);
        return -1;
    }

    type = mam_edge_content_type(key, strlen(key));
    if (!type) {
        type = "application/octet-stream";
    }

    if (st.st_size >= cf->s3_multipart) {
        int  rc;

        err[0] = '\0';
        rc = td_s3_put_multipart(cf, f, st.st_size, key, type, err, len);
        fclose(f);
        if (rc == 0) {
            td_log(NULL, "uploaded %s in parts (%lld bytes)", key,
                   (long long) st.st_size);
        }
        return rc;
    }

    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.bucket = cf->s3_bucket[2];
    req.key = key;
    req.upload = f;
    req.upload_size = st.st_size;
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) { "content-type", type };
    (void) mam_s3_sse_headers(&cf->s3, req.headers, &req.nheaders,
                              sizeof(req.headers) / sizeof(req.headers[0]));

    if (mam_s3_perform(&cf->s3, &req) != 0 || req.status != 200) {
        fclose(f);
        snprintf(err, len, "cannot upload %s to S3 (%s)", key,
                 req.status ? "HTTP error" : req.error);
        return -1;
    }

    fclose(f);
    return 0;
}

/* every file under dir/sub except the top-level master playlist */
static int
td_s3_put_tree(const td_config_t *cf, const char *dir, const char *sub,
    const char *prefix, char *err, size_t len)
{
    DIR            *d;
    char            path[2400], rel[600], key[1200];
    struct dirent  *e;
    struct stat     st;
    int             rc = 0;

    snprintf(path, sizeof(path), "%s%s%s", dir, *sub ? "/" : "", sub);
    d = opendir(path);
    if (d == NULL) {
        snprintf(err, len, "cannot read %s", path);
        return -1;
    }

    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(rel, sizeof(rel), "%s%s%s", sub, *sub ? "/" : "", e->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = td_s3_put_tree(cf, dir, rel, prefix, err, len);
        } else if (!(*sub == '\0' && strcmp(e->d_name, "index.m3u8") == 0)) {
            snprintf(key, sizeof(key), "%s/%s", prefix, rel);
            rc = td_s3_put(cf, path, key, err, len);
        }
    }

    closedir(d);
    return rc;
}

int
td_s3_publish(const td_config_t *cf, const char *dir, const char *prefix,
    char *err, size_t len)
{
    char  path[2400], key[1200];

    if (td_s3_put_tree(cf, dir, "", prefix, err, len) != 0) {
        return -1;
    }

    /* the master last: a reader finds it only when all it names is there */
    snprintf(path, sizeof(path), "%s/index.m3u8", dir);
    snprintf(key, sizeof(key), "%s/index.m3u8", prefix);
    return td_s3_put(cf, path, key, err, len);
}
