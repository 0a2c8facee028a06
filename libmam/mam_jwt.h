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

/* role names <-> bits; 0 for an unknown name */
unsigned mam_role_bit(const char *name, size_t len);
const char *mam_role_name(unsigned bit);

#endif
