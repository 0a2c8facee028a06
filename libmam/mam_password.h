/* Passwords: the rule of api.md and Argon2id hashes (libargon2). */
#ifndef MAM_PASSWORD_H
#define MAM_PASSWORD_H

#include <stddef.h>

#define MAM_ARGON2_T        2
#define MAM_ARGON2_M_KIB    19456
#define MAM_ARGON2_P        1
#define MAM_ARGON2_SALT     16
#define MAM_ARGON2_HASH     32
#define MAM_PASSWORD_ENCODED_MAX  128

/* NULL when pw (UTF-8) follows the rule, else a message for the user */
const char *mam_password_check(const char *pw, size_t len, const char *email,
    size_t email_len);

/* Argon2id encoded hash into encoded (MAM_PASSWORD_ENCODED_MAX); 0 or -1 */
int mam_password_hash(const char *pw, size_t len, char *encoded);

/* 1 match, 0 mismatch or malformed hash; NULL encoded costs a real hash */
int mam_password_verify(const char *encoded, const char *pw, size_t len);

#endif
