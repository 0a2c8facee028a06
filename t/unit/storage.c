/* libmam/mam_storage: keys, safe file names, exclusive placement. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mam_storage.h"
#include "tap.h"

static int
key_ok(const char *k)
{
    return mam_key_valid(k, strlen(k));
}

static const char *
safe(const char *name)
{
    static char  out[MAM_SAFE_NAME_MAX + 1];

    mam_safe_filename(name, strlen(name), out);
    return out;
}

static void
write_file(const char *path, const char *text)
{
    FILE  *f = fopen(path, "w");

    fputs(text, f);
    fclose(f);
}

int
main(void)
{
    char         dir[] = "/tmp/mam-storage-XXXXXX", src[256], dst[256];
    char         ext[16], path[64], big[300];
    struct stat  st;

    ok(key_ok("uploads/u/1/a.mp4"), "a staging key is valid");
    ok(key_ok("masters/a/v1/original.mov"), "a master key is valid");
    ok(!key_ok(""), "empty key");
    ok(!key_ok("/abs/key"), "absolute key");
    ok(!key_ok("a//b"), "empty segment");
    ok(!key_ok("a/b/"), "trailing slash");
    ok(!key_ok("a/../b"), "dot-dot segment");
    ok(!key_ok("a/./b"), "dot segment");
    ok(!key_ok(".."), "dot-dot alone");
    ok(key_ok("a/..b/c"), "dots inside a segment are fine");
    ok(!key_ok("a/b c"), "space");
    ok(!key_ok("a/b%2Fc"), "percent");
    ok(!key_ok("a\\b"), "backslash");
    ok(!mam_key_valid("a\0b", 3), "NUL byte");
    memset(big, 'a', sizeof(big));
    ok(mam_key_valid(big, 300) == 1, "300-byte segment is valid");
    ok(!mam_key_valid(big, MAM_KEY_MAX_LEN + 1), "over the length limit");

    ok(strcmp(safe("My Clip (final).MP4"), "My_Clip_final_.MP4") == 0,
       "spaces and brackets become one underscore: %s",
       safe("My Clip (final).MP4"));
    ok(strcmp(safe("../../etc/passwd"), "passwd") == 0, "only the last component");
    ok(strcmp(safe("C:\\videos\\take1.mov"), "take1.mov") == 0, "backslashes too");
    ok(strcmp(safe(".hidden.mp4"), "hidden.mp4") == 0, "no leading dot");
    ok(strcmp(safe("..."), "upload") == 0, "dots only: upload");
    ok(strcmp(safe("\xc3\xa9t\xc3\xa9.mp4"), "t_.mp4") == 0,
       "non-ASCII is replaced: %s", safe("\xc3\xa9t\xc3\xa9.mp4"));
    ok(strcmp(safe(""), "upload") == 0, "empty: upload");
    memset(big, 'x', 250);
    strcpy(big + 250, ".mp4");
    ok(strlen(safe(big)) == MAM_SAFE_NAME_MAX
       && strcmp(safe(big) + MAM_SAFE_NAME_MAX - 4, ".mp4") == 0,
       "a long name is cut to %d with its extension", MAM_SAFE_NAME_MAX);
    ok(key_ok(safe("a/b\\c d\x01.mp4")), "a safe name is a valid key segment");

    mam_key_extension("uploads/u/1/clip.MP4", ext, sizeof(ext));
    ok(strcmp(ext, ".mp4") == 0, "extension lower-cased");
    mam_key_extension("uploads/u/1/clip", ext, sizeof(ext));
    ok(strcmp(ext, "") == 0, "no extension");
    mam_key_extension("uploads/u/1/.mp4", ext, sizeof(ext));
    ok(strcmp(ext, "") == 0, "a dot file has no extension");
    mam_key_extension("uploads/u/1/a.verylongextension", ext, sizeof(ext));
    ok(strcmp(ext, "") == 0, "an over-long extension is dropped");
    mam_key_extension("uploads/u/1/a.m-4", ext, sizeof(ext));
    ok(strcmp(ext, "") == 0, "an extension must be alphanumeric");

    ok(mam_local_path(path, sizeof(path), "/srv", "uploads/a/b.mp4") == 0
       && strcmp(path, "/srv/uploads/a/b.mp4") == 0, "local path");
    ok(mam_local_path(path, sizeof(path), "/srv", "../x") == -1,
       "no local path for a bad key");
    ok(mam_local_path(path, 8, "/srv", "uploads/a/b.mp4") == -1,
       "no local path that does not fit");

    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return done_testing();
    }
    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(dst, sizeof(dst), "%s/masters/a/v1/original.mp4", dir);
    write_file(src, "content");

    ok(mam_local_place(src, dst, 0444) == MAM_STORAGE_OK,
       "place creates the parents and the file");
    ok(stat(dst, &st) == 0 && (st.st_mode & 0777) == 0444, "mode 0444");
    ok(mam_local_size(dst) == 7, "same size");
    ok(access(src, F_OK) == 0, "the source is left alone");
    ok(mam_local_place(src, dst, 0444) == MAM_STORAGE_EXISTS,
       "never over an existing file");
    snprintf(src, sizeof(src), "%s/missing", dir);
    snprintf(dst, sizeof(dst), "%s/other", dir);
    ok(mam_local_place(src, dst, 0644) == MAM_STORAGE_MISSING,
       "a missing source");
    ok(access(dst, F_OK) != 0, "... leaves nothing behind");
    ok(mam_local_size(dir) == -1, "no size for a directory");

    ok(mam_local_remove(src) == MAM_STORAGE_OK, "removing a missing file is fine");
    snprintf(src, sizeof(src), "%s/masters", dir);
    ok(mam_local_remove_tree(src) == MAM_STORAGE_OK, "remove a tree");
    ok(access(src, F_OK) != 0, "... it is gone");
    ok(mam_local_remove_tree(src) == MAM_STORAGE_OK, "... twice is fine");

    snprintf(src, sizeof(src), "%s/src", dir);
    unlink(src);
    rmdir(dir);

    return done_testing();
}
