#include "mam_util.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static const char  mam_hex[] = "0123456789abcdef";

static void
mam_hex_encode(const unsigned char *in, size_t len, char *out)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        out[2 * i] = mam_hex[in[i] >> 4];
        out[2 * i + 1] = mam_hex[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int
mam_uuid_valid(const char *s, size_t len)
{
    size_t  i;

    if (len != MAM_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
            continue;
        }

        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}

int
mam_random_hex(char *out, size_t len)
{
    unsigned char  buf[64];

    if (len > sizeof(buf) || RAND_bytes(buf, (int) len) != 1) {
        return -1;
    }

    mam_hex_encode(buf, len, out);
    return 0;
}

int
mam_uuid_v4(char out[MAM_UUID_LEN + 1])
{
    char           hex[33];
    unsigned char  b[16];

    if (RAND_bytes(b, sizeof(b)) != 1) {
        return -1;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    mam_hex_encode(b, sizeof(b), hex);

    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';

    return 0;
}

void
mam_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    mam_hex_encode(md, sizeof(md), out);
}

/* a Redis script's id (EVALSHA): the SHA-1 of its text */
void
mam_sha1_hex(const void *data, size_t len, char out[41])
{
    unsigned char  md[SHA_DIGEST_LENGTH];

    SHA1(data, len, md);
    mam_hex_encode(md, sizeof(md), out);
}

/* 32 bytes as base64url without padding: 43 characters and a NUL */
static void
mam_b64url_32(const unsigned char buf[32], char out[44])
{
    int            i, n;
    unsigned char  b64[48];

    n = EVP_EncodeBlock(b64, buf, 32);    /* 44 with one '=' */

    for (i = 0; i < n && b64[i] != '='; i++) {
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char) b64[i];
    }
    out[i] = '\0';
}

int
mam_random_token(char out[44])
{
    unsigned char  buf[32];

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return -1;
    }

    mam_b64url_32(buf, out);

    return 0;
}

/* HMAC() looks the algorithm up in OpenSSL's provider tables (a lock and
 * a search) on every call, which the edge and the API would pay on every
 * request: the MAC is fetched once per process */
static EVP_MAC         *mam_hmac_alg;
static pthread_once_t   mam_hmac_once = PTHREAD_ONCE_INIT;

static void
mam_hmac_fetch(void)
{
    mam_hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

int
mam_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char md[32])
{
    int           rc = -1;
    size_t        n;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *c;

    if (pthread_once(&mam_hmac_once, mam_hmac_fetch) != 0
        || mam_hmac_alg == NULL)
    {
        return -1;
    }

    c = EVP_MAC_CTX_new(mam_hmac_alg);
    if (c == NULL) {
        return -1;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    /* a NULL key would mean "the previous key": an empty one is "" */
    if (EVP_MAC_init(c, keylen ? key : "", keylen, params) == 1
        && EVP_MAC_update(c, msg, len) == 1
        && EVP_MAC_final(c, md, &n, 32) == 1
        && n == 32)
    {
        rc = 0;
    }

    EVP_MAC_CTX_free(c);
    return rc;
}

int
mam_hmac_sign(const void *key, size_t keylen, const void *msg, size_t len,
    char out[44])
{
    unsigned char  md[32];

    if (mam_hmac_sha256(key, keylen, msg, len, md) != 0) {
        return -1;
    }

    mam_b64url_32(md, out);

    return 0;
}

int
mam_hmac_verify(const void *key, size_t keylen, const void *msg, size_t len,
    const char *sig, size_t siglen)
{
    char  expect[44];

    if (mam_hmac_sign(key, keylen, msg, len, expect) != 0) {
        return 0;
    }

    /* the length is public (always 43); the content is compared in
     * constant time */
    return siglen == MAM_SIG_LEN && mam_equal(expect, sig, MAM_SIG_LEN);
}

int
mam_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int
mam_hmac_hex(const void *key, size_t keylen, const void *msg, size_t len,
    char out[65])
{
    unsigned char  md[32];

    if (mam_hmac_sha256(key, keylen, msg, len, md) != 0) {
        return -1;
    }

    mam_hex_encode(md, sizeof(md), out);

    return 0;
}

int
mam_hmac_hex_verify(const void *key, size_t keylen, const void *msg,
    size_t len, const char *hex, size_t hexlen)
{
    size_t  i;
    char    expect[65], got[64];

    if (hexlen != 64 || mam_hmac_hex(key, keylen, msg, len, expect) != 0) {
        return 0;
    }

    for (i = 0; i < 64; i++) {
        got[i] = (hex[i] >= 'A' && hex[i] <= 'F') ? (char) (hex[i] + 32)
                                                  : hex[i];
    }

    return mam_equal(expect, got, 64);
}



/* n decimal digits at s as a number, or -1 */
static int
mam_digits(const char *s, size_t n)
{
    int     v = 0;
    size_t  i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    return v;
}


static int
mam_days_in_month(int year, int month)
{
    static const int  days[] = { 31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31 };

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        return 29;
    }

    return days[month - 1];
}


/*
 * An ISO-8601 time as the API takes it, one instant whatever PostgreSQL's
 * session time zone: YYYY-MM-DD (the caller binds it as midnight UTC), or
 * YYYY-MM-DDTHH:MM[:SS[.1-6 digits]] with Z or +HH:MM / -HH:MM (a ' ' for
 * the '+': an unencoded '+' of a query string reads as a space).  Every
 * field is range-checked (February 30 is no date), so PostgreSQL's cast of
 * what passes never fails.
 */
int
mam_time_valid(const char *s, size_t len)
{
    int     y, m, d, v;
    size_t  i;

    if (len < 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }

    y = mam_digits(s, 4);
    m = mam_digits(s + 5, 2);
    d = mam_digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mam_days_in_month(y, m)) {
        return 0;
    }

    if (len == 10) {
        return 1;
    }

    /* THH:MM */
    if (len < 16 || s[10] != 'T' || s[13] != ':') {
        return 0;
    }
    if (mam_digits(s + 11, 2) < 0 || mam_digits(s + 11, 2) > 23
        || mam_digits(s + 14, 2) < 0 || mam_digits(s + 14, 2) > 59)
    {
        return 0;
    }
    i = 16;

    /* :SS[.ffffff] */
    if (i < len && s[i] == ':') {
        v = (i + 3 <= len) ? mam_digits(s + i + 1, 2) : -1;
        if (v < 0 || v > 59) {
            return 0;
        }
        i += 3;

        if (i < len && s[i] == '.') {
            size_t  start = ++i;

            while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 6) {
                i++;
            }
            if (i == start) {
                return 0;
            }
        }
    }

    if (i == len) {
        return 0;
    }

    if (s[i] == 'Z') {
        return i + 1 == len;
    }

    /* +HH:MM, the furthest zone +14:00 */
    if ((s[i] != '+' && s[i] != '-' && s[i] != ' ')
        || len - i != 6 || s[i + 3] != ':')
    {
        return 0;
    }
    v = mam_digits(s + i + 1, 2);
    if (v < 0 || v > 14 || mam_digits(s + i + 4, 2) < 0
        || mam_digits(s + i + 4, 2) > 59)
    {
        return 0;
    }

    return 1;
}
