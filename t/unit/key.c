/* libmam key files: content without trailing whitespace, size limits;
 * one key per purpose by HKDF-SHA256. */
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

static void
from_hex(const char *text, unsigned char *out)
{
    unsigned int  b;

    while (text[0] && sscanf(text, "%2x", &b) == 1) {
        *out++ = (unsigned char) b;
        text += 2;
    }
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

    /* HKDF-SHA256: RFC 5869 A.1 (test case 1) */
    {
        static const unsigned char ikm[22] = {
            0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
            0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b
        };
        static const unsigned char salt[13] = {
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
            0x0b, 0x0c
        };
        static const unsigned char info[10] = {
            0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9
        };
        unsigned char  okm[42], want[42];

        from_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56"
                 "ecc4c5bf34007208d5b887185865", want);
        ok(mam_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info,
                           sizeof(info), okm, sizeof(okm)) == 0
           && memcmp(okm, want, sizeof(okm)) == 0,
           "HKDF-SHA256: RFC 5869 test case 1");
    }

    /*
     * The purpose keys of the 64-hex key above, as computed by
     *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:$KEY \
     *       -kdfopt info:"mam edge v1" HKDF
     * (and by a Python HKDF over hmac), no salt.
     */
    {
        static const struct {
            const char  *label;
            const char  *okm;
        } cases[] = {
            { MAM_KEY_LABEL_EDGE, "384e29ddfbf66d7c31b4f5c74aa83700"
                                  "bd0b757e8fd358d874ca6b0ee9bd85e2" },
            { MAM_KEY_LABEL_UPLOAD, "b5c286dc387aa84961d95c43953efa3a"
                                    "6866b1a532b0441747228b9132789fe5" },
            { MAM_KEY_LABEL_TUS, "2f883196002b2e21b2f32928a51444fc"
                                 "2120fabad7b292c841851ccd2f9d4a0a" },
            { MAM_KEY_LABEL_CURSOR, "9b62da091d5e1ff588cc798121c9933a"
                                    "cd73db9b5a8577352b5dc648351adfa2" },
        };
        size_t         i;
        unsigned char  out[MAM_KEY_DERIVED_LEN], want[MAM_KEY_DERIVED_LEN];

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            from_hex(cases[i].okm, want);
            ok(mam_key_derive((const unsigned char *) hex, 64,
                              cases[i].label, out) == 0
               && memcmp(out, want, sizeof(out)) == 0,
               "the \"%s\" key is HKDF-SHA256 of the key and the label",
               cases[i].label);
        }

        ok(mam_key_from_hex((const unsigned char *) cases[0].okm, 64, out,
                            err, sizeof(err)) == 0
           && mam_key_derive((const unsigned char *) hex, 64,
                             MAM_KEY_LABEL_EDGE, want) == 0
           && memcmp(out, want, sizeof(out)) == 0,
           "a derived key file (64 hex digits) decodes to the key");

        ok(mam_key_from_hex((const unsigned char *) hex, 63, out, err,
                            sizeof(err)) == -1
           && strstr(err, "64 hex digits") != NULL,
           "a derived key file of another length is refused");

        ok(mam_key_from_hex((const unsigned char *)
                            "0123456789abcdef0123456789abcdef"
                            "0123456789abcdef0123456789abcdeg", 64, out,
                            err, sizeof(err)) == -1,
           "a derived key file with a non-hex digit is refused");
    }

    unlink(write_file("a", "")); unlink(write_file("b", ""));
    unlink(write_file("c", "")); unlink(write_file("d", ""));
    rmdir(dir);

    return done_testing();
}
