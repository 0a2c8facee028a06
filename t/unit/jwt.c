/* Access tokens: HS256 pinned, every claim checked (libmam/mam_jwt.c). */
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "mam_jwt.h"
#include "tap.h"

static const unsigned char key[] = "0123456789abcdef0123456789abcdef";
static const unsigned char other[] = "fedcba9876543210fedcba9876543210";
#define KEYLEN 32
#define NOW 1700000000L

static mam_jwt_claims_t
claims(void)
{
    mam_jwt_claims_t c = {
        "11111111-2222-4333-8444-555555555555",
        "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        "99999999-8888-4777-8666-555555555555",
        NOW, NOW + 900, 3, MAM_ROLE_EDITOR | MAM_ROLE_VIEWER
    };
    return c;
}

static int
verify(const char *token, mam_jwt_claims_t *out)
{
    return mam_jwt_verify(key, KEYLEN, token, strlen(token), NOW, out);
}

/* a token made directly with libjwt: any algorithm, any grants */
static char *
raw_token(jwt_alg_t alg, const unsigned char *k, const char *grants)
{
    jwt_t  *jwt;
    char   *s;

    jwt_new(&jwt);
    jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? NULL : k,
                alg == JWT_ALG_NONE ? 0 : KEYLEN);
    jwt_add_grants_json(jwt, grants);
    s = jwt_encode_str(jwt);
    jwt_free(jwt);
    return s;
}

#define GOOD "\"sub\":\"11111111-2222-4333-8444-555555555555\"," \
             "\"sid\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\","  \
             "\"jti\":\"99999999-8888-4777-8666-555555555555\","  \
             "\"iat\":1700000000,\"av\":1,\"roles\":[\"viewer\"]"

/* the memo of verified tokens: a hit answers what libjwt answered and
 * nothing it would refuse */
static void
memo_tests(void)
{
    char                    *t, *bad, *dot;
    mam_jwt_memo_t          *m;
    mam_jwt_claims_t         c = claims(), got;

    m = malloc(sizeof(*m));
    mam_jwt_memo_init(m, key, KEYLEN);
    t = mam_jwt_issue(key, KEYLEN, &c);

    ok(mam_jwt_verify_memo(m, t, strlen(t), NOW, &got) == 0
       && m->misses == 1 && m->hits == 0, "memo: a first use verifies");
    memset(&got, 0, sizeof(got));
    ok(mam_jwt_verify_memo(m, t, strlen(t), NOW + 10, &got) == 0
       && m->hits == 1 && strcmp(got.sub, c.sub) == 0 && got.exp == c.exp
       && got.roles == c.roles, "memo: the second is a hit, same claims");

    /* the same length and the same last bytes: the remembered token's slot */
    bad = strdup(t);
    dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    ok(mam_jwt_verify_memo(m, bad, strlen(bad), NOW, &got) == -1,
       "memo: a tampered payload in a remembered token's slot is refused");
    free(bad);

    ok(mam_jwt_verify_memo(m, t, strlen(t) - 1, NOW, &got) == -1,
       "memo: a prefix of a remembered token is refused");

    ok(mam_jwt_verify_memo(m, t, strlen(t), NOW + 900, &got) == -1,
       "memo: a remembered token at its exp is refused");
    ok(mam_jwt_verify_memo(m, t, strlen(t), NOW, &got) == 0
       && m->misses >= 2, "memo: and forgotten (verified again)");

    mam_jwt_memo_init(m, other, KEYLEN);
    ok(mam_jwt_verify_memo(m, t, strlen(t), NOW, &got) == -1,
       "memo: bound to its key");

    free(t);
    free(m);
}

int
main(void)
{
    char              *t, *bad, *dot;
    mam_jwt_claims_t   c = claims(), got;

    t = mam_jwt_issue(key, KEYLEN, &c);
    ok(t != NULL, "a token is issued");
    ok(verify(t, &got) == 0, "it verifies");
    ok(strcmp(got.sub, c.sub) == 0 && strcmp(got.sid, c.sid) == 0
       && strcmp(got.jti, c.jti) == 0, "sub, sid and jti round-trip");
    ok(got.exp == c.exp && got.iat == c.iat && got.av == 3,
       "exp, iat and av round-trip");
    ok(got.roles == (MAM_ROLE_EDITOR | MAM_ROLE_VIEWER), "roles round-trip");
    ok(mam_jwt_verify(other, KEYLEN, t, strlen(t), NOW, &got) == -1,
       "another key is refused");
    ok(mam_jwt_verify(key, KEYLEN, t, strlen(t), NOW + 900, &got) == -1,
       "a token at its exp is refused");
    ok(mam_jwt_verify(key, KEYLEN, t, strlen(t) - 1, NOW, &got) == -1,
       "a truncated signature is refused");

    bad = strdup(t);
    dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    ok(verify(bad, &got) == -1, "a tampered payload is refused");
    free(bad);

    bad = strdup(t);
    bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
    ok(verify(bad, &got) == -1, "a tampered signature is refused");
    free(bad);
    free(t);

    t = raw_token(JWT_ALG_NONE, NULL, "{" GOOD ",\"exp\":1700000900}");
    ok(t && verify(t, &got) == -1, "alg none is refused");
    free(t);

    t = raw_token(JWT_ALG_HS512, key, "{" GOOD ",\"exp\":1700000900}");
    ok(t && verify(t, &got) == -1, "HS512 with the right key is refused");
    free(t);

    t = raw_token(JWT_ALG_HS256, key, "{" GOOD ",\"exp\":1700000900}");
    ok(t && verify(t, &got) == 0, "a hand-made HS256 token with all claims "
       "verifies (the negative cases below are meaningful)");
    free(t);

    t = raw_token(JWT_ALG_HS256, key, "{" GOOD "}");
    ok(t && verify(t, &got) == -1, "a token without exp is refused");
    free(t);

    t = raw_token(JWT_ALG_HS256, key, "{" GOOD ",\"exp\":1699999999}");
    ok(t && verify(t, &got) == -1, "a past exp is refused");
    free(t);

    t = raw_token(JWT_ALG_HS256, key,
        "{\"sub\":\"x\",\"sid\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\","
        "\"jti\":\"99999999-8888-4777-8666-555555555555\","
        "\"iat\":1700000000,\"av\":1,\"roles\":[],\"exp\":1700000900}");
    ok(t && verify(t, &got) == -1, "a sub that is not a UUID is refused");
    free(t);

    t = raw_token(JWT_ALG_HS256, key,
        "{\"sub\":\"11111111-2222-4333-8444-555555555555\","
        "\"sid\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\","
        "\"jti\":\"99999999-8888-4777-8666-555555555555\","
        "\"iat\":1700000000,\"av\":1,\"roles\":[\"root\"],"
        "\"exp\":1700000900}");
    ok(t && verify(t, &got) == -1, "an unknown role is refused");
    free(t);

    t = raw_token(JWT_ALG_HS256, key,
        "{\"sub\":\"11111111-2222-4333-8444-555555555555\","
        "\"sid\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\","
        "\"jti\":\"99999999-8888-4777-8666-555555555555\","
        "\"iat\":1700000000,\"roles\":[],\"exp\":1700000900}");
    ok(t && verify(t, &got) == -1, "a token without av is refused");
    free(t);

    ok(verify("", &got) == -1 && verify("a.b.c", &got) == -1
       && verify("not a token", &got) == -1, "garbage is refused");

    ok(mam_jwt_verify(key, KEYLEN, "a.b\0c", 5, NOW, &got) == -1,
       "an embedded NUL is refused");

    memo_tests();

    return done_testing();
}
