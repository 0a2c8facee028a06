/* Passwords: the rule of api.md and Argon2id (libmam/mam_password.c). */
#include <string.h>

#include "mam_password.h"
#include "mam_util.h"
#include "tap.h"

#define CHECK(pw, email) mam_password_check(pw, strlen(pw), email, strlen(email))

int
main(void)
{
    char  enc[MAM_PASSWORD_ENCODED_MAX], tok[44], hex[65], uuid[37];

    ok(CHECK("correct horse battery", "ann@example.com") == NULL,
       "a good password passes");
    ok(CHECK("short1234", "ann@example.com") != NULL, "9 characters fail");
    ok(CHECK("0123456789", "ann@example.com") == NULL, "10 characters pass");
    ok(CHECK("aaaabbbbccccdddd", "ann@example.com") != NULL,
       "4 distinct characters fail");
    ok(CHECK("xx-Ann-Secret-99", "ann@example.com") != NULL,
       "containing the local part (any case) fails");
    ok(CHECK("\xc3\xa9\xc3\xa8\xc3\xaa\xc3\xab\xc3\xa0\xc3\xa2"
             "\xc3\xa9\xc3\xa8\xc3\xaa\xc3\xab", "z@example.com") == NULL,
       "characters are counted, not bytes (10 two-byte characters pass)");
    {
        char long_pw[300];
        memset(long_pw, 'a', 257);
        memcpy(long_pw, "bcdef", 5);
        long_pw[257] = '\0';
        ok(CHECK(long_pw, "z@example.com") != NULL, "257 characters fail");
        long_pw[256] = '\0';
        ok(CHECK(long_pw, "z@example.com") == NULL, "256 characters pass");
    }

    ok(mam_password_hash("correct horse battery", 21, enc) == 0,
       "hashing works");
    ok(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0,
       "encoded Argon2id with m=19456, t=2, p=1: %s", enc);
    ok(mam_password_verify(enc, "correct horse battery", 21) == 1,
       "the right password verifies");
    ok(mam_password_verify(enc, "correct horse batterY", 21) == 0,
       "a wrong password does not");
    ok(mam_password_verify(NULL, "correct horse battery", 21) == 0,
       "no account never verifies");
    ok(mam_password_verify("$argon2id$garbage", "x", 1) == 0,
       "a malformed hash does not verify");

    ok(mam_random_token(tok) == 0 && strlen(tok) == 43
       && strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_") == 43,
       "refresh tokens are 43 base64url characters (256 bits)");
    mam_sha256_hex("abc", 3, hex);
    ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
       "sha256 hex matches the FIPS 180-2 example");
    ok(mam_uuid_v4(uuid) == 0 && mam_uuid_valid(uuid, 36) && uuid[14] == '4',
       "random UUIDs are valid v4: %s", uuid);
    ok(!mam_uuid_valid("11111111-2222-4333-8444-55555555555G", 36)
       && !mam_uuid_valid("11111111-2222-4333-8444-55555555555", 35)
       && !mam_uuid_valid("11111111A2222-4333-8444-555555555555", 36)
       && !mam_uuid_valid("11111111-2222-4333-8444-5555555555AA", 36),
       "malformed or upper-case UUIDs are refused");
    ok(mam_equal("abcd", "abcd", 4) && !mam_equal("abcd", "abce", 4),
       "constant-time compare");

    return done_testing();
}
