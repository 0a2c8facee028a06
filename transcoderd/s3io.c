/*
 * transcoderd on S3 storage: the master is downloaded (streamed to a
 * scratch file) and the rendered folder uploaded to the previews bucket
 * with server-side encryption, segments and rendition playlists first and
 * the master playlist last, so the edge never finds a master that points
 * at missing files.
 */
#include <dirent.h>
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

    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.bucket = cf->s3_bucket[2];
    req.key = key;
    req.upload = f;
    req.upload_size = st.st_size;
    type = mam_edge_content_type(key, strlen(key));
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) {
        "content-type", type ? type : "application/octet-stream" };
    req.headers[req.nheaders++] = (mam_sigv4_pair_t) {
        "x-amz-server-side-encryption", "AES256" };

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
