/* libmam key files: content without trailing whitespace, size limits. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mam_key.h"
#include "tap.h"

static char dir[] = "/tmp/mam-key-XXXXXX";

static const char *
write_file(const char *name, const char *content)
{
    static char  path[256];
    FILE        *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

int
main(void)
{
    char           err[256];
    size_t         len;
    unsigned char  buf[MAM_KEY_MAX_LEN];
    const char    *hex = "0123456789abcdef0123456789abcdef"
                         "0123456789abcdef0123456789abcdef";

    if (mkdtemp(dir) == NULL) {
        return 2;
    }

    ok(mam_key_load(write_file("a", "0123456789abcdef0123456789abcdef"
                                    "0123456789abcdef0123456789abcdef\n"),
                    buf, sizeof(buf), &len, err, sizeof(err)) == 0
       && len == 64 && memcmp(buf, hex, 64) == 0,
       "a 64-hex key with a newline loads without the newline");

    ok(mam_key_load(write_file("b", "  key with inner spaces kept......  \r\n\t"),
                    buf, sizeof(buf), &len, err, sizeof(err)) == 0
       && len == 34 && memcmp(buf, "  key with inner spaces kept......", 34) == 0,
       "only trailing whitespace is removed");

    ok(mam_key_load(write_file("c", "short\n"), buf, sizeof(buf), &len, err,
                    sizeof(err)) == -1 && strstr(err, "shorter") != NULL,
       "a key under 32 bytes is refused");

    ok(mam_key_load(write_file("d", hex), buf, 40, &len, err, sizeof(err))
       == -1 && strstr(err, "longer") != NULL,
       "a key larger than the buffer is refused");

    ok(mam_key_load("/nonexistent/key", buf, sizeof(buf), &len, err,
                    sizeof(err)) == -1 && strstr(err, "cannot open") != NULL,
       "a missing file is reported");

    ok(mam_key_load(dir, buf, sizeof(buf), &len, err, sizeof(err)) == -1
       && strstr(err, "regular file") != NULL,
       "a directory is refused");

    ok(strstr(err, "0123") == NULL, "errors never contain key material");

    unlink(write_file("a", "")); unlink(write_file("b", ""));
    unlink(write_file("c", "")); unlink(write_file("d", ""));
    rmdir(dir);

    return done_testing();
}
