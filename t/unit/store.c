/*
 * libmam/mam_store: the storage interface of the module and transcoderd.
 * The local backend in full, on a temporary root; the S3 backend against a
 * small canned peer (a forked process answering by method and query, and
 * logging each request) and a stalled one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mam_store.h"
#include "tap.h"
#include "helpers.h"


static char  root[64];


/* a new file each time: a put may have linked the old one into place */
static void
write_file(const char *path, const char *text)
{
    FILE  *f;

    (void) unlink(path);
    f = fopen(path, "w");

    fputs(text, f);
    fclose(f);
}

static const char *
at(const char *rel)
{
    static char  path[8][512];
    static int   i;

    i = (i + 1) % 8;
    snprintf(path[i], sizeof(path[i]), "%s/%s", root, rel);
    return path[i];
}

static int
mode_of(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 ? (int) (st.st_mode & 0777) : -1;
}


/* --- keys ---------------------------------------------------------------- */

static void
test_keys(void)
{
    char         path[64];
    mam_store_t  st;

    memset(&st, 0, sizeof(st));
    ok(mam_store_init_local(&st, "relative/root") == -1,
       "a relative root is refused");
    ok(mam_store_init_local(&st, "/srv/mam//") == 0
       && strcmp(st.root, "/srv/mam") == 0 && st.kind == MAM_STORE_LOCAL,
       "a root loses its trailing slashes");

    ok(mam_store_area("uploads/u/1/a.mp4") == MAM_STORE_UPLOADS
       && mam_store_area("masters/a/v/original.mp4") == MAM_STORE_MASTERS
       && mam_store_area("previews/a/v/index.m3u8") == MAM_STORE_PREVIEWS
       && mam_store_area("other/x") == -1 && mam_store_area("uploads") == -1,
       "the three areas by prefix");
    ok(mam_store_write_once("uploads/u/1/a.mp4")
       && mam_store_write_once("masters/a/v/original.mp4")
       && !mam_store_write_once("previews/a/v/index.m3u8"),
       "uploads and masters are write-once, previews are replaced");

    ok(mam_store_path(&st, "masters/a/v/o.mp4", path, sizeof(path)) == 0
       && strcmp(path, "/srv/mam/masters/a/v/o.mp4") == 0, "a key's path");
    ok(mam_store_path(&st, "masters/../x", path, sizeof(path)) == -1,
       "no path for a bad key");
    ok(mam_store_path(&st, "masters/a/v/o.mp4", path, 8) == -1,
       "no path that does not fit");
    ok(mam_store_bucket(&st, "masters/a/v/o.mp4") == NULL,
       "local storage has no buckets");

    ok(strcmp(mam_store_content_type("previews/a/v/index.m3u8"),
              "application/vnd.apple.mpegurl") == 0
       && strcmp(mam_store_content_type("previews/a/v/360p/s_000.ts"),
                 "video/mp2t") == 0
       && strcmp(mam_store_content_type("previews/a/v/poster.jpg"),
                 "image/jpeg") == 0,
       "content type by extension");
    ok(strcmp(mam_store_content_type("masters/a/v/original.mov"),
              "application/octet-stream") == 0,
       "an unknown extension is octet-stream");

    memset(&st, 0, sizeof(st));
    ok(mam_store_init_s3(&st, "stage", "", "prev") == -1,
       "every bucket must be named");
    ok(mam_store_init_s3(&st, "stage", "mast", "prev") == 0
       && st.kind == MAM_STORE_S3, "S3 storage");
    ok(strcmp(mam_store_bucket(&st, "uploads/u/1/a.mp4"), "stage") == 0
       && strcmp(mam_store_bucket(&st, "masters/a/v/o.mp4"), "mast") == 0
       && strcmp(mam_store_bucket(&st, "previews/a/v/i.m3u8"), "prev") == 0,
       "the bucket of each area");
    ok(mam_store_bucket(&st, "elsewhere/a") == NULL, "no bucket outside");

    /* names parsed in place, as transcoderd's configuration does */
    strcpy(st.bucket[0], "s0");
    strcpy(st.bucket[1], "m1");
    strcpy(st.bucket[2], "p2");
    ok(mam_store_init_s3(&st, st.bucket[0], st.bucket[1], st.bucket[2]) == 0
       && strcmp(st.bucket[1], "m1") == 0, "buckets given from st itself");
}


/* --- local ---------------------------------------------------------------- */

static void
test_local(void)
{
    int          rc;
    off_t        size;
    char         src[512], err[256], *text;
    mam_store_t  st;
    size_t       n;
    mam_s3_part_t  parts[2];

    memset(&st, 0, sizeof(st));
    ok(mam_store_init_local(&st, root) == 0, "local storage at %s", root);

    snprintf(src, sizeof(src), "%s/body", root);
    write_file(src, "0123456789");

    /* put: write-once areas never replace */
    ok(mam_store_put(&st, src, "uploads/u/1/clip.mp4", err, sizeof(err))
       == MAM_STORAGE_OK, "put a staging file");
    ok(mode_of(at("uploads/u/1/clip.mp4")) == 0644, "... 0644");
    ok(access(src, F_OK) == 0, "... the source is left alone");
    ok(mam_store_put(&st, src, "uploads/u/1/clip.mp4", err, sizeof(err))
       == MAM_STORAGE_EXISTS, "a staging key is write-once (%s)", err);
    ok(mam_store_put(&st, at("nothing"), "uploads/u/1/x.mp4", err,
                     sizeof(err)) == MAM_STORAGE_MISSING,
       "a missing file is MISSING");
    errno = 0;
    ok(mam_store_put(&st, src, "uploads/../x", err, sizeof(err))
       == MAM_STORAGE_ERROR && errno == EINVAL, "a bad key is EINVAL");

    /* put: previews are replaced */
    ok(mam_store_put(&st, src, "previews/a/v/index.m3u8", NULL, 0)
       == MAM_STORAGE_OK, "put a preview file");
    write_file(src, "new");
    ok(mam_store_put(&st, src, "previews/a/v/index.m3u8", NULL, 0)
       == MAM_STORAGE_OK, "... again: replaced");
    text = read_file(at("previews/a/v/index.m3u8"));
    ok(text && strcmp(text, "new") == 0, "... with the new content");

    /* size */
    ok(mam_store_size(&st, "uploads/u/1/clip.mp4", &size) == MAM_STORAGE_OK
       && size == 10, "size of a file");
    ok(mam_store_size(&st, "uploads/u/1/none.mp4", &size) == MAM_STORAGE_OK
       && size == -1, "size of nothing: -1");

    /* promote */
    ok(mam_store_promote(&st, "uploads/u/1/clip.mp4",
                         "masters/a/v1/original.mp4") == MAM_STORAGE_OK,
       "promote");
    ok(mode_of(at("masters/a/v1/original.mp4")) == 0444, "... a 0444 master");
    ok(access(at("uploads/u/1/clip.mp4"), F_OK) != 0,
       "... the staging file is gone");
    ok(mam_store_promote(&st, "uploads/u/1/clip.mp4",
                         "masters/a/v2/original.mp4") == MAM_STORAGE_MISSING,
       "promote from nothing: MISSING");
    ok(mam_store_put(&st, src, "uploads/u/1/again.mp4", NULL, 0)
       == MAM_STORAGE_OK
       && mam_store_promote(&st, "uploads/u/1/again.mp4",
                            "masters/a/v1/original.mp4")
          == MAM_STORAGE_EXISTS, "promote over a master: EXISTS");
    text = read_file(at("masters/a/v1/original.mp4"));
    ok(text && strcmp(text, "0123456789") == 0, "... the master is intact");
    ok(access(at("uploads/u/1/again.mp4"), F_OK) == 0,
       "... and the staging file stays");

    /* download */
    ok(mam_store_download(&st, "masters/a/v1/original.mp4", at("copy"), err,
                          sizeof(err)) == MAM_STORAGE_OK, "download");
    text = read_file(at("copy"));
    ok(text && strcmp(text, "0123456789") == 0, "... the same bytes");
    ok(mam_store_download(&st, "masters/a/none/o.mp4", at("copy2"), err,
                          sizeof(err)) == MAM_STORAGE_MISSING,
       "download of nothing: MISSING (%s)", err);

    /* remove */
    ok(mam_store_remove(&st, "uploads/u/1/again.mp4") == MAM_STORAGE_OK
       && access(at("uploads/u/1/again.mp4"), F_OK) != 0, "remove");
    ok(mam_store_remove(&st, "uploads/u/1/again.mp4") == MAM_STORAGE_OK,
       "... twice is fine");

    /* a rendered folder: upload_tree puts file by file */
    mkdir(at("out"), 0755);
    mkdir(at("out/360p"), 0755);
    write_file(at("out/index.m3u8"), "master");
    write_file(at("out/360p/index.m3u8"), "rendition");
    write_file(at("out/360p/s_000.ts"), "segment");
    ok(mam_store_upload_tree(&st, at("out"), "previews/b/v", "index.m3u8",
                             err, sizeof(err)) == MAM_STORAGE_OK,
       "upload a tree");
    text = read_file(at("previews/b/v/index.m3u8"));
    ok(text && strcmp(text, "master") == 0
       && access(at("previews/b/v/360p/s_000.ts"), F_OK) == 0,
       "... every file, the last one too");
    ok(symlink("/etc/passwd", at("out/link")) == 0
       && mam_store_upload_tree(&st, at("out"), "previews/b/w", NULL, err,
                                sizeof(err)) == MAM_STORAGE_ERROR,
       "a link in the tree is refused (%s)", err);
    unlink(at("out/link"));

    /* publish: one rename, replacing the previous folder */
    ok(mam_store_publish(&st, at("out"), "previews/c/v", "index.m3u8", err,
                         sizeof(err)) == MAM_STORAGE_OK, "publish");
    ok(access(at("out"), F_OK) != 0
       && access(at("previews/c/v/360p/s_000.ts"), F_OK) == 0,
       "... the folder moved into place");
    mkdir(at("out2"), 0755);
    write_file(at("out2/index.m3u8"), "second");
    ok(mam_store_publish(&st, at("out2"), "previews/c/v", "index.m3u8", err,
                         sizeof(err)) == MAM_STORAGE_OK, "publish again");
    text = read_file(at("previews/c/v/index.m3u8"));
    ok(text && strcmp(text, "second") == 0
       && access(at("previews/c/v/360p"), F_OK) != 0
       && access(at("out2"), F_OK) != 0,
       "... the new folder replaced the old one, which is gone");
    mkdir(at("out3"), 0755);
    ok(mam_store_publish(&st, at("out3"), "masters/c/v", NULL, err,
                         sizeof(err)) == MAM_STORAGE_ERROR,
       "nothing is published into a write-once area (%s)", err);

    /* remove a folder */
    ok(mam_store_remove_folder(&st, "previews/c") == MAM_STORAGE_OK
       && access(at("previews/c"), F_OK) != 0, "remove a folder");
    ok(mam_store_remove_folder(&st, "previews/c") == MAM_STORAGE_OK,
       "... twice is fine");

    /* multipart uploads are S3's */
    errno = 0;
    rc = mam_store_multipart_create(&st, "uploads/u/1/m.mp4", "video/mp4",
                                    err, sizeof(err));
    ok(rc == MAM_STORAGE_ERROR && errno == ENOTSUP,
       "no multipart upload on local storage");
    errno = 0;
    ok(mam_store_multipart_list(&st, "uploads/u/1/m.mp4", "id", parts, 2, &n)
       == MAM_STORAGE_ERROR && errno == ENOTSUP && n == 0, "... nor a list");
}


/* --- S3 --------------------------------------------------------------------- */

/*
 * A canned S3: 200 for everything, with an ETag, an UploadId for a
 * CreateMultipartUpload, one part for a ListParts, an empty listing, and
 * Content-Length 7 for a HEAD; or the fixed status given.  Each request's
 * line and notable headers are appended to log.
 */
static void
peer_answer(int c, int status, const char *log)
{
    int      n, len, clen = 0;
    char     req[16384], line[2048], method[16], *p, *body;
    FILE    *f;
    char     answer[1024];
    ssize_t  r;

    len = 0;
    while (len < (int) sizeof(req) - 1) {
        r = read(c, req + len, sizeof(req) - 1 - len);
        if (r <= 0) {
            return;
        }
        len += (int) r;
        req[len] = '\0';
        if ((p = strstr(req, "\r\n\r\n")) != NULL) {
            break;
        }
    }
    p = strstr(req, "\r\n\r\n");
    if (p == NULL) {
        return;
    }
    body = p + 4;

    if ((p = strcasestr(req, "\r\ncontent-length:")) != NULL) {
        clen = atoi(p + 17);
    }
    if (strcasestr(req, "\r\nexpect: 100-continue")) {
        (void) write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    n = (int) (len - (body - req));
    while (n < clen) {
        r = read(c, line, sizeof(line));
        if (r <= 0) {
            break;
        }
        n += (int) r;
    }

    sscanf(req, "%15s %2047s", method, line);
    f = fopen(log, "a");
    if (f) {
        fprintf(f, "%s %s%s%s%s\n", method, line,
                strcasestr(req, "\r\nx-amz-server-side-encryption:")
                ? " +sse" : "",
                strcasestr(req, "\r\nif-none-match:") ? " +once" : "",
                strcasestr(req, "\r\nx-amz-object-lock-legal-hold:")
                ? " +hold" : "");
        fclose(f);
    }

    body = "";
    if (status == 200 && strcmp(method, "POST") == 0
        && strstr(line, "uploads") && !strstr(line, "uploadId"))
    {
        body = "<InitiateMultipartUploadResult><UploadId>up1</UploadId>"
               "</InitiateMultipartUploadResult>";
    } else if (status == 200 && strcmp(method, "POST") == 0) {
        body = "<CompleteMultipartUploadResult></CompleteMultipartUploadResult>";
    } else if (status == 200 && strcmp(method, "GET") == 0
               && strstr(line, "uploadId"))
    {
        body = "<ListPartsResult><IsTruncated>false</IsTruncated>"
               "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag>"
               "<Size>5</Size></Part></ListPartsResult>";
    } else if (status == 200 && strcmp(method, "GET") == 0
               && strstr(line, "list-type"))
    {
        body = "<ListBucketResult></ListBucketResult>";
    } else if (status == 200 && strcmp(method, "GET") == 0) {
        body = "abcdefg";
    }

    snprintf(answer, sizeof(answer),
             "HTTP/1.1 %d X\r\nETag: \"e1\"\r\nContent-Length: %d\r\n"
             "Connection: close\r\n\r\n%s", status,
             strcmp(method, "HEAD") == 0 ? 7 : (int) strlen(body),
             strcmp(method, "HEAD") == 0 ? "" : body);
    (void) write(c, answer, strlen(answer));
}

static pid_t
peer_start(int status, const char *log, int *port)
{
    int                 fd, c;
    pid_t               pid;

    fd = listen_loopback(port);
    if (fd < 0) {
        return -1;
    }

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for ( ;; ) {
            c = accept(fd, NULL, NULL);
            if (c >= 0) {
                peer_answer(c, status, log);
                close(c);
            }
        }
    }
    close(fd);
    return pid;
}

static void
peer_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static void
s3_store(mam_store_t *st, int port)
{
    char  endpoint[64];

    memset(st, 0, sizeof(*st));
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
    mam_s3_set_endpoint(&st->s3, endpoint);
    st->s3.path_style = 1;
    strcpy(st->s3.region, "us-east-1");
    strcpy(st->s3.access_key, "k");
    strcpy(st->s3.secret_key, "s");
    mam_s3_set_sse(&st->s3, "AES256");
    st->s3.timeout_ms = 5000;
    mam_store_init_s3(st, "stage", "mast", "prev");
}

static int  notes;

static void
note(const char *message)
{
    notes += strstr(message, "in parts") != NULL;
}

/* the log's lines as one line, each ending in ';', then the log emptied */
static char *
peer_log(const char *log)
{
    char  *text = read_file(log), *p;

    text = strdup(text ? text : "");
    for (p = text; *p; p++) {
        if (*p == '\n') {
            *p = ';';
        }
    }
    unlink(log);
    return text;
}

static void
test_s3(void)
{
    int            port;
    char           log[512], err[256], *seen, *text, id[64];
    off_t          size;
    pid_t          pid;
    size_t         n;
    mam_store_t    st;
    mam_s3_part_t  parts[4];

    snprintf(log, sizeof(log), "%s/peer.log", root);

    /* --- a peer that has everything --- */
    pid = peer_start(200, log, &port);
    ok(pid > 0, "a canned S3 peer on port %d", port);
    s3_store(&st, port);
    st.object_lock = 1;
    st.note = note;

    ok(mam_store_size(&st, "masters/a/v/o.mp4", &size) == MAM_STORAGE_OK
       && size == 7, "size by HEAD");
    ok(mam_store_promote(&st, "uploads/u/1/a.mp4", "masters/a/v/o.mp4")
       == MAM_STORAGE_EXISTS, "promote over an object: EXISTS");
    seen = peer_log(log);
    ok(strstr(seen, "HEAD /mast/masters/a/v/o.mp4") && !strstr(seen, "PUT"),
       "... checked by HEAD, nothing copied");
    free(seen);

    write_file(at("s3body"), "hello");
    ok(mam_store_put(&st, at("s3body"), "uploads/u/1/b.mp4", err,
                     sizeof(err)) == MAM_STORAGE_EXISTS,
       "put over a staging object: EXISTS");
    ok(mam_store_put(&st, at("s3body"), "previews/a/v/index.m3u8", err,
                     sizeof(err)) == MAM_STORAGE_OK, "put a preview");
    seen = peer_log(log);
    ok(strstr(seen, "PUT /prev/previews/a/v/index.m3u8 +sse;")
       && !strstr(seen, "HEAD /prev"),
       "... encrypted, no existence check, replaced (%s)", seen);
    free(seen);

    ok(mam_store_download(&st, "masters/a/v/o.mp4", at("dl"), err,
                          sizeof(err)) == MAM_STORAGE_OK, "download");
    text = read_file(at("dl"));
    ok(text && strcmp(text, "abcdefg") == 0, "... the object's bytes");

    ok(mam_store_remove(&st, "masters/a/v/o.mp4") == MAM_STORAGE_OK,
       "remove");
    ok(mam_store_remove_folder(&st, "previews/a") == MAM_STORAGE_OK,
       "remove a folder (an empty listing)");
    seen = peer_log(log);
    ok(strstr(seen, "GET /prev/?list-type=2&prefix=previews%2Fa%2F") != NULL,
       "... listed by its prefix (%s)", seen);
    free(seen);

    /* a put in parts: create with encryption, parts without, complete */
    st.part_size = 2;
    notes = 0;
    ok(mam_store_put(&st, at("s3body"), "previews/a/v/big.ts", err,
                     sizeof(err)) == MAM_STORAGE_OK, "put in parts");
    seen = peer_log(log);
    ok(strstr(seen, "POST /prev/previews/a/v/big.ts?uploads +sse;")
       && strstr(seen, "PUT /prev/previews/a/v/big.ts?partNumber=3"
                       "&uploadId=up1;")
       && !strstr(seen, "partNumber=4")
       && strstr(seen, "POST /prev/previews/a/v/big.ts?uploadId=up1;"),
       "... encryption at create only, 3 parts of 2, completed (%s)", seen);
    ok(notes == 1, "... and noted");
    free(seen);
    st.part_size = 0;

    /* a tree: the last file last */
    ok(mam_store_upload_tree(&st, at("out4"), "previews/d/v", "index.m3u8",
                             err, sizeof(err)) == MAM_STORAGE_OK,
       "upload a tree");
    seen = peer_log(log);
    text = strrchr(seen, ';');
    while (text > seen && text[-1] != ';') {
        text--;
    }
    ok(strstr(seen, "/prev/previews/d/v/360p/s_000.ts")
       && strstr(text, "PUT /prev/previews/d/v/index.m3u8") == text,
       "... the master playlist last (%s)", seen);
    free(seen);

    ok(mam_store_multipart_create(&st, "uploads/u/1/m.mp4", "video/mp4", id,
                                  sizeof(id)) == MAM_STORAGE_OK
       && strcmp(id, "up1") == 0, "multipart create");
    seen = peer_log(log);
    ok(strstr(seen, "POST /stage/uploads/u/1/m.mp4?uploads +sse;") != NULL,
       "... encrypted at create, no legal hold on staging (%s)", seen);
    free(seen);

    ok(mam_store_multipart_list(&st, "uploads/u/1/m.mp4", "up1", parts, 4,
                                &n) == MAM_STORAGE_OK
       && n == 1 && parts[0].number == 1 && parts[0].size == 5,
       "multipart list");
    ok(mam_store_multipart_complete(&st, "uploads/u/1/m.mp4", "up1", 10, 5,
                                    parts, 4, &n, &size)
       == MAM_PARTIAL_CONFLICT && n == 1,
       "complete with a part missing: CONFLICT");
    ok(mam_store_multipart_complete(&st, "uploads/u/1/m.mp4", "up1", 5, 5,
                                    parts, 4, &n, &size) == MAM_STORAGE_OK
       && size == 7, "complete, the size by HEAD");
    ok(mam_store_multipart_abort(&st, "uploads/u/1/m.mp4", "up1")
       == MAM_STORAGE_OK, "abort");
    errno = 0;
    ok(mam_store_size(&st, "elsewhere/x", &size) == MAM_STORAGE_ERROR
       && errno == EINVAL, "a key outside the areas is EINVAL");
    peer_stop(pid);
    unlink(log);

    /* --- a peer that has nothing --- */
    pid = peer_start(404, log, &port);
    s3_store(&st, port);
    st.object_lock = 1;

    ok(mam_store_size(&st, "masters/a/v/o.mp4", &size) == MAM_STORAGE_OK
       && size == -1, "size of nothing: -1");
    ok(mam_store_remove(&st, "masters/a/v/o.mp4") == MAM_STORAGE_OK,
       "removing nothing is fine");
    ok(mam_store_download(&st, "masters/a/v/o.mp4", at("dl"), err,
                          sizeof(err)) == MAM_STORAGE_MISSING,
       "download of nothing: MISSING (%s)", err);
    ok(mam_store_promote(&st, "uploads/u/1/a.mp4", "masters/a/v/o.mp4")
       == MAM_STORAGE_MISSING, "promote from nothing: MISSING");
    seen = peer_log(log);
    ok(strstr(seen, "PUT /mast/masters/a/v/o.mp4 +sse +once +hold;")
       != NULL,
       "... the copy was encrypted, write-once, under legal hold (%s)", seen);
    free(seen);
    ok(mam_store_multipart_list(&st, "uploads/u/1/m.mp4", "up1", parts, 4,
                                &n) == MAM_STORAGE_MISSING,
       "list of an ended upload: MISSING");
    ok(mam_store_multipart_complete(&st, "uploads/u/1/m.mp4", "up1", 5, 5,
                                    parts, 4, &n, &size)
       == MAM_STORAGE_MISSING, "complete of an ended upload: MISSING");
    ok(mam_store_multipart_abort(&st, "uploads/u/1/m.mp4", "up1")
       == MAM_STORAGE_OK, "abort of an ended upload is fine");
    peer_stop(pid);
    unlink(log);

    /* --- a peer that fails --- */
    pid = peer_start(500, log, &port);
    s3_store(&st, port);
    errno = 0;
    ok(mam_store_remove(&st, "masters/a/v/o.mp4") == MAM_STORAGE_ERROR
       && errno == EIO, "a failing S3 is EIO");
    ok(mam_store_size(&st, "masters/a/v/o.mp4", &size) == MAM_STORAGE_ERROR
       && size == -1, "... for a size too");
    ok(mam_store_put(&st, at("s3body"), "previews/a/v/x.ts", err,
                     sizeof(err)) == MAM_STORAGE_ERROR
       && strstr(err, "HTTP 500") != NULL, "... a put says why (%s)", err);
    peer_stop(pid);
    unlink(log);
}


int
main(void)
{
    char  cmd[128];

    strcpy(root, "/tmp/mam-store-XXXXXX");
    if (mkdtemp(root) == NULL) {
        ok(0, "mkdtemp");
        return done_testing();
    }

    test_keys();
    test_local();

    mkdir(at("out4"), 0755);
    mkdir(at("out4/360p"), 0755);
    write_file(at("out4/index.m3u8"), "master");
    write_file(at("out4/360p/s_000.ts"), "segment");
    write_file(at("out4/360p/index.m3u8"), "rendition");
    test_s3();

    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    (void) system(cmd);

    return done_testing();
}
