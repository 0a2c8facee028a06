#include "mam_jwt.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>

static const struct {
    unsigned     bit;
    const char  *name;
} mam_roles[] = {
    { MAM_ROLE_VIEWER, "viewer" },
    { MAM_ROLE_EDITOR, "editor" },
    { MAM_ROLE_ADMIN, "admin" },
};

#define MAM_NROLES  (sizeof(mam_roles) / sizeof(mam_roles[0]))

unsigned
mam_role_bit(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < MAM_NROLES; i++) {
        if (strlen(mam_roles[i].name) == len
            && memcmp(mam_roles[i].name, name, len) == 0)
        {
            return mam_roles[i].bit;
        }
    }

    return 0;
}

const char *
mam_role_name(unsigned bit)
{
    size_t  i;

    for (i = 0; i < MAM_NROLES; i++) {
        if (mam_roles[i].bit == bit) {
            return mam_roles[i].name;
        }
    }

    return NULL;
}

static char *
mam_jwt_roles_json(unsigned roles)
{
    char    *out;
    size_t   i;
    json_t  *obj, *arr;

    obj = json_object();
    arr = json_array();
    if (obj == NULL || arr == NULL || json_object_set_new(obj, "roles", arr)) {
        json_decref(obj);
        return NULL;
    }

    for (i = 0; i < MAM_NROLES; i++) {
        if (roles & mam_roles[i].bit) {
            json_array_append_new(arr, json_string(mam_roles[i].name));
        }
    }

    out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);

    return out;
}

char *
mam_jwt_issue(const unsigned char *key, size_t keylen,
    const mam_jwt_claims_t *c)
{
    char   *roles, *token;
    jwt_t  *jwt;

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    token = NULL;
    roles = mam_jwt_roles_json(c->roles);

    if (roles != NULL
        && jwt_set_alg(jwt, JWT_ALG_HS256, key, (int) keylen) == 0
        && jwt_add_grant(jwt, "sub", c->sub) == 0
        && jwt_add_grant(jwt, "sid", c->sid) == 0
        && jwt_add_grant(jwt, "jti", c->jti) == 0
        && jwt_add_grant_int(jwt, "iat", c->iat) == 0
        && jwt_add_grant_int(jwt, "exp", c->exp) == 0
        && jwt_add_grant_int(jwt, "av", c->av) == 0
        && jwt_add_grants_json(jwt, roles) == 0)
    {
        token = jwt_encode_str(jwt);
    }

    free(roles);
    jwt_free(jwt);

    return token;
}

static int
mam_jwt_uuid_claim(jwt_t *jwt, const char *name, char out[MAM_UUID_LEN + 1])
{
    const char  *v;

    v = jwt_get_grant(jwt, name);
    if (v == NULL || !mam_uuid_valid(v, strlen(v))) {
        return -1;
    }

    memcpy(out, v, MAM_UUID_LEN + 1);
    return 0;
}

static int
mam_jwt_int_claim(jwt_t *jwt, const char *name, long *out)
{
    errno = 0;
    *out = jwt_get_grant_int(jwt, name);

    return errno == 0 ? 0 : -1;
}

static int
mam_jwt_roles_claim(jwt_t *jwt, unsigned *roles)
{
    int       rc;
    char     *text;
    size_t    i;
    json_t   *arr, *v;
    unsigned  bit;

    text = jwt_get_grants_json(jwt, "roles");
    if (text == NULL) {
        return -1;
    }

    arr = json_loads(text, 0, NULL);
    free(text);

    rc = json_is_array(arr) ? 0 : -1;
    *roles = 0;

    json_array_foreach(arr, i, v) {
        bit = json_is_string(v) ? mam_role_bit(json_string_value(v),
                                                json_string_length(v))
                                : 0;
        if (bit == 0) {
            rc = -1;
            break;
        }
        *roles |= bit;
    }

    json_decref(arr);
    return rc;
}

int
mam_jwt_verify(const unsigned char *key, size_t keylen, const char *token,
    size_t len, long now, mam_jwt_claims_t *c)
{
    int     rc;
    char    buf[MAM_JWT_MAX_LEN + 1];
    jwt_t  *jwt;

    if (len == 0 || len > MAM_JWT_MAX_LEN || memchr(token, '\0', len)) {
        return -1;
    }

    memcpy(buf, token, len);
    buf[len] = '\0';

    if (jwt_decode(&jwt, buf, key, (int) keylen) != 0) {
        return -1;
    }

    /* pinned: whatever libjwt accepted, only HS256 with our key counts */
    rc = (jwt_get_alg(jwt) == JWT_ALG_HS256
          && mam_jwt_uuid_claim(jwt, "sub", c->sub) == 0
          && mam_jwt_uuid_claim(jwt, "sid", c->sid) == 0
          && mam_jwt_uuid_claim(jwt, "jti", c->jti) == 0
          && mam_jwt_int_claim(jwt, "iat", &c->iat) == 0
          && mam_jwt_int_claim(jwt, "exp", &c->exp) == 0
          && mam_jwt_int_claim(jwt, "av", &c->av) == 0
          && mam_jwt_roles_claim(jwt, &c->roles) == 0
          && c->exp > now
          && c->iat <= now + 60
          && c->av >= 1)
         ? 0 : -1;

    jwt_free(jwt);

    return rc;
}


void
mam_jwt_memo_init(mam_jwt_memo_t *m, const unsigned char *key,
    size_t keylen)
{
    memset(m, 0, sizeof(*m));
    m->key = key;
    m->keylen = keylen;
}

/* FNV-1a of the token's last 16 bytes, most of them its signature */
static size_t
mam_jwt_memo_index(const char *token, size_t len)
{
    size_t    i;
    uint32_t  h = 2166136261u;

    for (i = len > 16 ? len - 16 : 0; i < len; i++) {
        h = (h ^ (unsigned char) token[i]) * 16777619u;
    }
    return h % MAM_JWT_MEMO_SLOTS;
}

int
mam_jwt_verify_memo(mam_jwt_memo_t *m, const char *token, size_t len,
    long now, mam_jwt_claims_t *claims)
{
    mam_jwt_memo_slot_t  *s;

    if (len == 0 || len > MAM_JWT_MEMO_TOKEN) {
        return mam_jwt_verify(m->key, m->keylen, token, len, now, claims);
    }

    s = &m->slot[mam_jwt_memo_index(token, len)];

    /* the length is public; the bytes compare in constant time, so that
     * timing tells a forger nothing of a remembered token */
    if (s->len == len && mam_equal(s->token, token, len)) {
        if (s->claims.exp <= now) {
            s->len = 0;
            return -1;
        }
        m->hits++;
        *claims = s->claims;
        return 0;
    }

    m->misses++;

    if (mam_jwt_verify(m->key, m->keylen, token, len, now, claims) != 0) {
        return -1;
    }

    memcpy(s->token, token, len);
    s->len = len;
    s->claims = *claims;

    return 0;
}
