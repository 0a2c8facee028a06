/* Small helpers shared by the module and transcoderd. */
#ifndef MAM_UTIL_H
#define MAM_UTIL_H

#include <stddef.h>

#define MAM_UUID_LEN  36

/* a lower-case, hyphenated UUID (8-4-4-4-12 hex) */
int mam_uuid_valid(const char *s, size_t len);

/* len random bytes as 2*len lower-case hex characters and a NUL; 0 or -1 */
int mam_random_hex(char *out, size_t len);

/* a random version-4 UUID, lower-case, NUL-terminated (37 bytes); 0 or -1 */
int mam_uuid_v4(char out[MAM_UUID_LEN + 1]);

/* SHA-256 of data as 64 hex characters and a NUL */
void mam_sha256_hex(const void *data, size_t len, char out[65]);
void mam_sha1_hex(const void *data, size_t len, char out[41]);

/* base64url without padding of 32 random bytes (43 characters + NUL) */
int mam_random_token(char out[44]);

/* HMAC-SHA256 of msg, 32 bytes; 0 or -1 */
int mam_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, unsigned char md[32]);

/* HMAC-SHA256 of msg as base64url without padding (MAM_SIG_LEN
 * characters and a NUL); 0 or -1 */
#define MAM_SIG_LEN  43
int mam_hmac_sign(const void *key, size_t keylen, const void *msg, size_t len,
    char out[44]);

/* 1 when sig is msg's HMAC-SHA256 under key (constant-time compare) */
int mam_hmac_verify(const void *key, size_t keylen, const void *msg,
    size_t len, const char *sig, size_t siglen);

/* HMAC-SHA256 of msg as 64 lower-case hex digits and a NUL; 0 or -1 */
int mam_hmac_hex(const void *key, size_t keylen, const void *msg, size_t len,
    char out[65]);

/* 1 when hex (64 lower- or upper-case hex digits) is msg's HMAC-SHA256
 * under key, compared in constant time */
int mam_hmac_hex_verify(const void *key, size_t keylen, const void *msg,
    size_t len, const char *hex, size_t hexlen);

/* 1 when s is an ISO-8601 date or time the API takes: YYYY-MM-DD, or
 * YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z or +HH:MM / -HH:MM (' ' for '+'),
 * every field in range */
int mam_time_valid(const char *s, size_t len);

/* constant-time comparison of two equal-length buffers: 1 when equal */
int mam_equal(const void *a, const void *b, size_t len);

#endif
