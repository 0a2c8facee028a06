/*
 * mam-password-hash EMAIL: reads a password (one line) on standard input,
 * checks it against the API's rules (mam_password_check: length, variety,
 * not the email) and prints its Argon2id encoding, as registration stores
 * it.  mam-admin create-admin uses it, so the shell and the API hash alike.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mam_password.h"

int
main(int argc, char **argv)
{
    char         pw[512], encoded[MAM_PASSWORD_ENCODED_MAX];
    size_t       len;
    const char  *why;

    if (argc != 2) {
        fprintf(stderr, "usage: mam-password-hash EMAIL < password\n");
        return 2;
    }

    if (fgets(pw, sizeof(pw), stdin) == NULL) {
        fprintf(stderr, "mam-password-hash: no password on standard input\n");
        return 1;
    }

    len = strcspn(pw, "\r\n");
    pw[len] = '\0';

    why = mam_password_check(pw, len, argv[1], strlen(argv[1]));
    if (why != NULL) {
        OPENSSL_cleanse(pw, sizeof(pw));
        fprintf(stderr, "mam-password-hash: %s\n", why);
        return 1;
    }

    if (mam_password_hash(pw, len, encoded) != 0) {
        OPENSSL_cleanse(pw, sizeof(pw));
        fprintf(stderr, "mam-password-hash: hashing failed\n");
        return 1;
    }

    OPENSSL_cleanse(pw, sizeof(pw));
    printf("%s\n", encoded);
    return 0;
}
