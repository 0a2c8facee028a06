/*
 * Access tokens: JWT, HS256 only (api.md).  A thin layer over libjwt that
 * pins the algorithm and checks every claim the API relies on.
 */
#ifndef MAM_JWT_H
#define MAM_JWT_H

#include <stddef.h>

#include "mam_util.h"

#define MAM_ROLE_VIEWER  0x1u
#define MAM_ROLE_EDITOR  0x2u
#define MAM_ROLE_ADMIN   0x4u

#define MAM_JWT_MAX_LEN  4096

typedef struct {
    char      sub[MAM_UUID_LEN + 1];
    char      sid[MAM_UUID_LEN + 1];
    char      jti[MAM_UUID_LEN + 1];
    long      iat;
    long      exp;
    long      av;
    unsigned  roles;            /* MAM_ROLE_* bits */
} mam_jwt_claims_t;

/* the token, malloc'd (free() it), or NULL */
char *mam_jwt_issue(const unsigned char *key, size_t keylen,
    const mam_jwt_claims_t *claims);

/*
 * 0 and the claims when token is an HS256 JWT signed with key, with valid
 * sub, sid, jti, av, roles, iat <= now + 60 and exp > now; -1 otherwise.
 */
int mam_jwt_verify(const unsigned char *key, size_t keylen, const char *token,
    size_t len, long now, mam_jwt_claims_t *claims);

/*
 * A process's memo of the tokens it verified.  A client sends the same
 * token with every request for its lifetime (15 minutes), and libjwt's
 * base64, JSON and HMAC cost an nginx worker more than any other step of
 * a list request but the network; a hit costs a hash and a constant-time
 * compare of the whole token.  One slot per hash of the token's last
 * bytes (its signature, chosen by our key, not by the client): a
 * colliding token only evicts, and verifies the long way.  exp is checked
 * against now on every hit.  Bound to one key; not thread-safe (one memo
 * per nginx worker, in the event loop).
 */
#define MAM_JWT_MEMO_SLOTS  256
#define MAM_JWT_MEMO_TOKEN  640     /* longer tokens verify, never kept */

typedef struct {
    size_t            len;          /* 0: empty */
    mam_jwt_claims_t  claims;
    char              token[MAM_JWT_MEMO_TOKEN];
} mam_jwt_memo_slot_t;

typedef struct {
    const unsigned char  *key;
    size_t                keylen;
    unsigned long         hits;
    unsigned long         misses;
    mam_jwt_memo_slot_t   slot[MAM_JWT_MEMO_SLOTS];
} mam_jwt_memo_t;

/* an empty memo for key, which must outlive it */
void mam_jwt_memo_init(mam_jwt_memo_t *m, const unsigned char *key,
    size_t keylen);

/* mam_jwt_verify() under the memo's key, remembered */
int mam_jwt_verify_memo(mam_jwt_memo_t *m, const char *token, size_t len,
    long now, mam_jwt_claims_t *claims);

/* role names <-> bits; 0 for an unknown name */
unsigned mam_role_bit(const char *name, size_t len);
const char *mam_role_name(unsigned bit);

#endif
