/* libmam/mam_partial: tus checksums, appends all or nothing, the lock. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mam_partial.h"
#include "tap.h"
#include "helpers.h"

static int
parse(const char *v, mam_checksum_t *sum)
{
    return mam_checksum_parse(v, strlen(v), sum);
}

static void
write_file(const char *path, const char *text)
{
    FILE  *f = fopen(path, "w");

    fputs(text, f);
    fclose(f);
}

static void
checksums(void)
{
    mam_checksum_t  sum;

    /* sha1("abc") and sha256("abc"), base64 */
    ok(parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &sum) == 0
       && sum.algo == MAM_DIGEST_SHA1 && sum.len == 20
       && sum.digest[0] == 0xa9 && sum.digest[19] == 0x9d,
       "sha1 with its base64 digest");
    ok(parse("sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &sum) == 0
       && sum.algo == MAM_DIGEST_SHA256 && sum.len == 32
       && sum.digest[0] == 0xba && sum.digest[31] == 0xad,
       "sha256 with its base64 digest");
    ok(parse("md5 kAFQmDzST7DWlj99KOF/cg==", &sum) == -2, "md5 is unsupported");
    ok(parse("crc32 AAAAAA==", &sum) == -2, "crc32 is unsupported");
    ok(parse("SHA1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &sum) == -2,
       "algorithm names are lower case");
    ok(parse("sha1", &sum) == -1, "no digest");
    ok(parse("sha1 ", &sum) == -1, "an empty digest");
    ok(parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0", &sum) == -1,
       "missing padding");
    ok(parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0==", &sum) == -1,
       "too long");
    ok(parse("sha1 qZk-NkcGgWq6PiVxeFDCbJzQ2J0=", &sum) == -1,
       "base64url is not base64");
    ok(parse("sha1 qZk+NkcGgWq6P!VxeFDCbJzQ2J0=", &sum) == -1,
       "a bad character");
    ok(parse("sha256 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &sum) == -1,
       "a sha1-sized digest for sha256");
    ok(mam_checksum_parse("sha1 qZk+NkcGgWq6PiVx\0FDCbJzQ2J0=", 33, &sum)
       == -1, "a NUL inside");
}

int
main(void)
{
    char            dir[] = "/tmp/mam-partial-XXXXXX", part[256], staging[256];
    char            chunk[256];
    off_t           now;
    int             fd, lfd;
    mam_checksum_t  sum;
    struct stat     st;

    checksums();

    if (mkdtemp(dir) == NULL) {
        return 1;
    }

    snprintf(staging, sizeof(staging), "%s/u/id/clip.mp4", dir);
    ok(mam_partial_path(part, sizeof(part), staging) == 0
       && strcmp(part + strlen(dir), "/u/id/clip.mp4.partial") == 0,
       "the partial lives beside the staging file");
    ok(mam_partial_path(part, 10, staging) == -1, "a path that does not fit");
    mam_partial_path(part, sizeof(part), staging);
    snprintf(chunk, sizeof(chunk), "%s/chunk", dir);

    ok(mam_partial_offset(part, &now) == MAM_STORAGE_MISSING && now == 0,
       "no partial yet");
    ok(mam_partial_create(part, &now) == MAM_STORAGE_OK,
       "creation makes the folders and an empty partial");
    ok(mam_partial_create(part, &now) == MAM_STORAGE_EXISTS && now == 0,
       "a second creation finds it, empty");

    write_file(chunk, "abcd");
    ok(mam_partial_append(part, chunk, 0, 10, NULL, staging, &now)
       == MAM_STORAGE_OK && now == 4, "4 bytes at offset 0");
    ok(mam_partial_offset(part, &now) == MAM_STORAGE_OK && now == 4,
       "the offset is 4");
    ok(mam_partial_append(part, chunk, 2, 10, NULL, staging, &now)
       == MAM_PARTIAL_CONFLICT && now == 4,
       "a wrong offset is a conflict telling the true one");
    write_file(chunk, "efghijklm");
    ok(mam_partial_append(part, chunk, 4, 10, NULL, staging, &now)
       == MAM_PARTIAL_TOO_LARGE && now == 4, "past the length: nothing");

    write_file(chunk, "efg");
    parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &sum);     /* of "abc" */
    ok(mam_partial_append(part, chunk, 4, 10, &sum, staging, &now)
       == MAM_PARTIAL_CHECKSUM, "a chunk that fails its checksum");
    ok(mam_partial_offset(part, &now) == MAM_STORAGE_OK && now == 4,
       "... appends nothing");
    write_file(chunk, "abc");
    ok(mam_partial_append(part, chunk, 4, 10, &sum, staging, &now)
       == MAM_STORAGE_OK && now == 7, "a chunk that passes it");

    /* another holder of the lock: an append in progress elsewhere */
    fd = open(part, O_RDONLY);
    flock(fd, LOCK_EX);
    write_file(chunk, "xyz");
    ok(mam_partial_append(part, chunk, 7, 10, NULL, staging, &now)
       == MAM_PARTIAL_LOCKED, "while another append holds it: locked");
    ok(mam_partial_remove(part) == MAM_PARTIAL_LOCKED,
       "... and it cannot be removed");
    ok(mam_partial_offset(part, &now) == MAM_PARTIAL_LOCKED,
       "... and its offset is not waited for: locked");
    ok(mam_partial_create(part, &now) == MAM_PARTIAL_LOCKED,
       "... nor by a creation");
    ok(mam_partial_lock(part, 7, &lfd, &now) == MAM_PARTIAL_LOCKED
       && lfd == -1, "... nor by the lock taken before a chunk is read");
    close(fd);

    /* the lock a PATCH takes before its body is read */
    ok(mam_partial_lock(part, 5, &lfd, &now) == MAM_PARTIAL_CONFLICT
       && lfd == -1 && now == 7, "a lock at a wrong offset: the true one");
    ok(mam_partial_lock(part, 7, &lfd, &now) == MAM_STORAGE_OK && lfd >= 0
       && now == 7, "a lock at the right offset");
    ok(mam_partial_lock(part, 7, &fd, &now) == MAM_PARTIAL_LOCKED,
       "... a second one is refused at once");
    ok(mam_partial_offset(part, &now) == MAM_PARTIAL_LOCKED,
       "... and so is the offset while the chunk is received");
    close(lfd);

    ok(mam_partial_lock(part, 7, &lfd, &now) == MAM_STORAGE_OK,
       "the last chunk's lock");
    ok(mam_partial_append_locked(lfd, part, chunk, 7, 10, NULL, staging,
                                 &now) == MAM_STORAGE_OK && now == 10,
       "the last chunk, appended under it");
    close(lfd);
    ok(access(part, F_OK) != 0, "... the partial is gone");
    ok(strcmp(read_file(staging) ? read_file(staging) : "", "abcdabcxyz")
       == 0, "... and the file is at the staging path");
    ok(stat(staging, &st) == 0 && (st.st_mode & 07777) == 0644,
       "... mode 0644");

    ok(mam_partial_append(part, chunk, 0, 3, NULL, staging, &now)
       == MAM_STORAGE_EXISTS, "a second complete file never replaces it");
    unlink(part);

    ok(mam_partial_append(part, chunk, 3, 10, NULL, staging, &now)
       == MAM_STORAGE_MISSING, "appending past 0 without a partial");

    mam_partial_create(part, &now);
    ok(mam_partial_remove(part) == MAM_STORAGE_OK && access(part, F_OK) != 0,
       "termination removes the partial");
    ok(mam_partial_remove(part) == MAM_STORAGE_OK, "... and is idempotent");

    ok(mam_partial_append(part, "/nonexistent/chunk", 0, 10, NULL, staging,
                          &now) == MAM_STORAGE_ERROR, "an unreadable chunk");

    unlink(part);
    unlink(staging);
    unlink(chunk);
    snprintf(chunk, sizeof(chunk), "rm -rf %s", dir);
    if (system(chunk) != 0) {
        return 1;
    }

    return done_testing();
}
