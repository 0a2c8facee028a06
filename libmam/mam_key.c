#include "mam_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static int
mam_key_is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int
mam_key_load(const char *path, unsigned char *buf, size_t cap, size_t *len,
    char *err, size_t errlen)
{
    return mam_secret_load(path, buf, cap, MAM_KEY_MIN_LEN, len, err, errlen);
}

int
mam_secret_load(const char *path, unsigned char *buf, size_t cap, size_t min,
    size_t *len, char *err, size_t errlen)
{
    int          fd;
    size_t       n;
    ssize_t      got;
    struct stat  st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "\"%s\" is not a regular file", path);
        close(fd);
        return -1;
    }

    n = 0;
    for ( ;; ) {
        if (n == cap) {
            snprintf(err, errlen, "\"%s\" is longer than %zu bytes", path,
                     cap);
            close(fd);
            return -1;
        }

        got = read(fd, buf + n, cap - n);
        if (got == -1 && errno == EINTR) {
            continue;
        }
        if (got == -1) {
            snprintf(err, errlen, "cannot read \"%s\": %s", path,
                     strerror(errno));
            close(fd);
            return -1;
        }
        if (got == 0) {
            break;
        }
        n += (size_t) got;
    }

    close(fd);

    while (n > 0 && mam_key_is_space(buf[n - 1])) {
        n--;
    }

    if (n < min) {
        snprintf(err, errlen, "%s in \"%s\" is shorter than %zu byte%s",
                 min == MAM_KEY_MIN_LEN ? "key" : "secret", path, min,
                 min == 1 ? "" : "s");
        return -1;
    }

    *len = n;
    return 0;
}


int
mam_hkdf_sha256(const unsigned char *key, size_t keylen,
    const unsigned char *salt, size_t saltlen, const unsigned char *info,
    size_t infolen, unsigned char *out, size_t outlen)
{
    int            rc;
    EVP_KDF       *kdf;
    OSSL_PARAM     params[5], *p;
    EVP_KDF_CTX   *kctx;

    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf == NULL) {
        return -1;
    }

    kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kctx == NULL) {
        return -1;
    }

    p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                            (char *) "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                             (void *) key, keylen);
    if (saltlen) {
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                 (void *) salt, saltlen);
    }
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                             (void *) info, infolen);
    *p = OSSL_PARAM_construct_end();

    rc = EVP_KDF_derive(kctx, out, outlen, params) == 1 ? 0 : -1;

    EVP_KDF_CTX_free(kctx);

    return rc;
}


int
mam_key_derive(const unsigned char *key, size_t keylen, const char *label,
    unsigned char *out)
{
    return mam_hkdf_sha256(key, keylen, NULL, 0,
                           (const unsigned char *) label, strlen(label),
                           out, MAM_KEY_DERIVED_LEN);
}


static int
mam_key_hex_digit(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }

    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }

    return -1;
}


int
mam_key_from_hex(const unsigned char *text, size_t len, unsigned char *out,
    char *err, size_t errlen)
{
    int     hi, lo;
    size_t  i;

    if (len != 2 * MAM_KEY_DERIVED_LEN) {
        snprintf(err, errlen, "a derived key is %d hex digits, not %zu bytes",
                 2 * MAM_KEY_DERIVED_LEN, len);
        return -1;
    }

    for (i = 0; i < MAM_KEY_DERIVED_LEN; i++) {
        hi = mam_key_hex_digit(text[2 * i]);
        lo = mam_key_hex_digit(text[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "a derived key is %d hex digits",
                     2 * MAM_KEY_DERIVED_LEN);
            return -1;
        }

        out[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}
