#include "mam_password.h"

#include <string.h>

#include <argon2.h>
#include <openssl/rand.h>

/* verified against when the account does not exist, so that an unknown
 * email costs exactly what a wrong password costs */
static const char  mam_dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$1n6cuMCggtPiU8HQHl/2FA$"
    "1/GiPsXhmva7XRMmjp/qdwU9xz9uRYKoAgMU4cLxkYY";

#define MAM_PASSWORD_MIN  10
#define MAM_PASSWORD_MAX  256
#define MAM_PASSWORD_DISTINCT  5

static unsigned char
mam_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
}

static int
mam_contains_nocase(const char *hay, size_t hlen, const char *needle,
    size_t nlen)
{
    size_t  i, j;

    for (i = 0; nlen && i + nlen <= hlen; i++) {
        for (j = 0; j < nlen; j++) {
            if (mam_lower(hay[i + j]) != mam_lower(needle[j])) {
                break;
            }
        }
        if (j == nlen) {
            return 1;
        }
    }

    return 0;
}

/* the code point starting at s[*i] (input is valid UTF-8, from jansson) */
static unsigned long
mam_utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    size_t         n, k;
    unsigned long  cp;

    cp = s[*i];
    n = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;
    cp &= n == 1 ? 0x7f : n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07;

    for (k = 1; k < n && *i + k < len; k++) {
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }

    *i += n;
    return cp;
}

const char *
mam_password_check(const char *pw, size_t len, const char *email,
    size_t email_len)
{
    size_t          i, nchars, ndistinct, local_len, k;
    unsigned long   cp, seen[MAM_PASSWORD_DISTINCT];
    const char     *at;

    nchars = 0;
    ndistinct = 0;

    for (i = 0; i < len; nchars++) {
        cp = mam_utf8_next((const unsigned char *) pw, len, &i);

        if (ndistinct < MAM_PASSWORD_DISTINCT) {
            for (k = 0; k < ndistinct && seen[k] != cp; k++) { /* void */ }
            if (k == ndistinct) {
                seen[ndistinct++] = cp;
            }
        }
    }

    if (nchars < MAM_PASSWORD_MIN || nchars > MAM_PASSWORD_MAX) {
        return "password: must be 10..256 characters";
    }

    if (ndistinct < MAM_PASSWORD_DISTINCT) {
        return "password: must contain at least 5 distinct characters";
    }

    at = memchr(email, '@', email_len);
    local_len = at ? (size_t) (at - email) : email_len;

    if (mam_contains_nocase(pw, len, email, local_len)) {
        return "password: must not contain the email's local part";
    }

    return NULL;
}

int
mam_password_hash(const char *pw, size_t len, char *encoded)
{
    unsigned char  salt[MAM_ARGON2_SALT];

    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return -1;
    }

    return argon2id_hash_encoded(MAM_ARGON2_T, MAM_ARGON2_M_KIB, MAM_ARGON2_P,
                                 pw, len, salt, sizeof(salt), MAM_ARGON2_HASH,
                                 encoded, MAM_PASSWORD_ENCODED_MAX)
           == ARGON2_OK ? 0 : -1;
}

int
mam_password_verify(const char *encoded, const char *pw, size_t len)
{
    int  rc;

    rc = argon2id_verify(encoded ? encoded : mam_dummy_hash, pw, len);

    return encoded != NULL && rc == ARGON2_OK;
}
