/*
 * Accounts: /auth/register, /auth/login, /auth/refresh, /auth/logout and
 * /auth/me.  Passwords are hashed and verified with Argon2id on the thread
 * pool; every multi-step change is one SQL function of
 * schema/functions/accounts.sql (one round trip, audited in the same
 * transaction).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"

#include "mam_password.h"
#include "mam_util.h"


#define NGX_MAM_LOGIN_FAILURES      "5"
#define NGX_MAM_LOGIN_WINDOW        "900"
#define NGX_MAM_ATTEMPT_MAX_KEYS    4
#define NGX_MAM_PASSWORD_MAX_BYTES  1024
#define NGX_MAM_REFRESH_LEN         43


typedef struct {
    char                *email;
    ngx_str_t            password;
    char                *name;
    char                 encoded[MAM_PASSWORD_ENCODED_MAX];
    int                  rc;
} ngx_mam_register_t;


typedef struct {
    char                *email;
    ngx_str_t            password;
    char                *fail_key;
    char                *hash;           /* stored hash, NULL: no account */
    char                 user_id[MAM_UUID_LEN + 1];
    char                 status[16];
    int                  verified;
    char                 refresh[NGX_MAM_REFRESH_LEN + 1];
    char                 refresh_hash[65];
} ngx_mam_login_t;


/*
 * Every attempt is counted before its secret (a password, a link's
 * passphrase) is checked, so concurrent attempts cannot slip past the
 * limit; a correct one clears the count.  KEYS: the counters, ARGV[1]
 * the window, ARGV[1 + i] the limit of KEYS[i].  Returns {0, 0} when the
 * attempt may go on (every counter counted it), {1, seconds left} when a
 * counter is at its limit (none counts it).
 */
static const char  ngx_mam_attempt_script[] =
    "for i = 1, #KEYS do "
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') "
    "     >= tonumber(ARGV[i + 1]) then "
    "    return {1, redis.call('TTL', KEYS[i])} "
    "  end "
    "end "
    "for i = 1, #KEYS do "
    "  if redis.call('INCR', KEYS[i]) == 1 then "
    "    redis.call('EXPIRE', KEYS[i], ARGV[1]) "
    "  end "
    "end "
    "return {0, 0}";


/* --- shared pieces ------------------------------------------------------ */

/* trimmed, lower-cased and checked; NUL-terminated in the request pool */
static char *
ngx_mam_accounts_email(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char **message)
{
    u_char     *p, *at, *dot, *email;
    ngx_str_t   v;

    if (ngx_mam_body_string(r, ctx, "email", 1, 1024, 1, &v, message)
        != NGX_OK)
    {
        return NULL;
    }

    while (v.len && (v.data[0] == ' ' || v.data[0] == '\t')) {
        v.data++;
        v.len--;
    }
    while (v.len && (v.data[v.len - 1] == ' ' || v.data[v.len - 1] == '\t')) {
        v.len--;
    }

    email = ngx_pnalloc(r->pool, v.len + 1);
    if (email == NULL) {
        *message = NULL;
        return NULL;
    }

    ngx_strlow(email, v.data, v.len);
    email[v.len] = '\0';

    *message = "email: must be a valid address of at most 254 characters";

    at = (u_char *) ngx_strchr(email, '@');
    if (v.len < 3 || v.len > 254 || at == NULL || at == email
        || at - email > 64 || ngx_strchr(at + 1, '@') != NULL)
    {
        return NULL;
    }

    dot = (u_char *) ngx_strchr(at + 1, '.');
    if (dot == NULL || dot == at + 1 || email[v.len - 1] == '.') {
        return NULL;
    }

    for (p = email; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>'
            || *p == '(' || *p == ')' || *p == ',' || *p == ';'
            || *p == '\\')
        {
            return NULL;
        }
    }

    *message = NULL;
    return (char *) email;
}


static ngx_int_t
ngx_mam_accounts_password(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_str_t *pw, const char **message)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, "password") : NULL;

    if (!json_is_string(v)) {
        *message = v ? "password: must be a string" : "password: required";
        return NGX_ERROR;
    }

    pw->data = (u_char *) json_string_value(v);
    pw->len = json_string_length(v);

    if (pw->len == 0 || pw->len > NGX_MAM_PASSWORD_MAX_BYTES) {
        *message = "password: must be 10..256 characters";
        return NGX_ERROR;
    }

    (void) r;
    return NGX_OK;
}


static ngx_int_t
ngx_mam_accounts_cookie(ngx_http_request_t *r, const char *token,
    time_t max_age)
{
    u_char     *p;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, 160);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "mam_refresh=%s; Max-Age=%T; Path=/auth; "
                               "HttpOnly; Secure; SameSite=Strict",
                            token, max_age)
                - p;

    return ngx_mam_add_header(r, "Set-Cookie", &value);
}


/* 200 {access_token, token_type, expires_in, refresh_token, user} */
static void
ngx_mam_accounts_send_tokens(ngx_http_request_t *r, json_t *grant,
    const char *refresh)
{
    char                 *access;
    size_t                i;
    json_t               *body, *roles, *v;
    const char           *sid, *id;
    mam_jwt_claims_t      c;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    ngx_memzero(&c, sizeof(c));

    id = json_string_value(json_object_get(json_object_get(grant, "user"),
                                           "id"));
    sid = json_string_value(json_object_get(grant, "sid"));
    roles = json_object_get(grant, "roles");

    if (id == NULL || sid == NULL || !json_is_array(roles)
        || !mam_uuid_valid(id, ngx_strlen(id))
        || !mam_uuid_valid(sid, ngx_strlen(sid))
        || mam_uuid_v4(c.jti) != 0)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_memcpy(c.sub, id, MAM_UUID_LEN + 1);
    ngx_memcpy(c.sid, sid, MAM_UUID_LEN + 1);
    c.iat = (long) ngx_time();
    c.exp = c.iat + (long) mcf->access_token_ttl;
    c.av = (long) json_integer_value(json_object_get(grant, "av"));

    json_array_foreach(roles, i, v) {
        c.roles |= mam_role_bit(json_string_value(v), json_string_length(v));
    }

    access = mam_jwt_issue(mcf->jwt_key.data, mcf->jwt_key.len, &c);
    if (access == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    body = json_pack("{s:s, s:s, s:I, s:s, s:O}",
                     "access_token", access, "token_type", "Bearer",
                     "expires_in", (json_int_t) mcf->access_token_ttl,
                     "refresh_token", refresh,
                     "user", json_object_get(grant, "user"));
    ngx_free(access);

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK
        || ngx_mam_accounts_cookie(r, refresh, mcf->refresh_token_ttl)
           != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


static const char *
ngx_mam_accounts_user_agent(ngx_http_request_t *r)
{
    char  *ua;

    if (r->headers_in.user_agent == NULL) {
        return "";
    }

    ua = ngx_mam_cstr(r->pool, &r->headers_in.user_agent->value);

    return ua ? ua : "";
}


static const char *
ngx_mam_accounts_ttl(ngx_http_request_t *r)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    return ngx_mam_message(r->pool, "%T", mcf->refresh_token_ttl);
}


/* --- POST /auth/register ------------------------------------------------ */

static void
ngx_mam_register_created(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v, *body;

    (void) data;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    if (ngx_mam_outcome(v) == MAM_OUTCOME_TAKEN) {
        ngx_mam_fail(r, NGX_HTTP_CONFLICT, "email: already registered");
        return;
    }

    body = json_pack("{s:O}", "user", json_object_get(v, "user"));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_CREATED,
                                                   body));
}


static void
ngx_mam_register_hash(void *data)
{
    ngx_mam_register_t  *rg = data;

    rg->rc = mam_password_hash((const char *) rg->password.data,
                               rg->password.len, rg->encoded);
}


static void
ngx_mam_register_hashed(ngx_http_request_t *r, void *data)
{
    const char           **values;
    ngx_mam_register_t    *rg = data;
    ngx_mam_main_conf_t   *mcf;

    static const char     *modes[] = { "open", "approval", "closed" };

    if (rg->rc != 0) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    values = ngx_palloc(r->pool, 5 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = rg->email;
    values[1] = rg->name;
    values[2] = rg->encoded;
    values[3] = modes[mcf->registration];
    values[4] = ngx_mam_ip(r);

    if (ngx_mam_pg_query(r, "SELECT mam_register($1, $2, $3, $4, $5)", 5,
                         values, ngx_mam_register_created, rg)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


ngx_int_t
ngx_mam_register_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_str_t             name;
    const char           *message;
    ngx_mam_register_t   *rg;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->registration == NGX_MAM_REGISTRATION_CLOSED) {
        return ngx_mam_send_error(r, NGX_HTTP_FORBIDDEN,
                                  "registration is closed");
    }

    rg = ngx_pcalloc(r->pool, sizeof(ngx_mam_register_t));
    if (rg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    rg->email = ngx_mam_accounts_email(r, ctx, &message);
    if (rg->email == NULL) {
        return ngx_mam_send_error(r, message ? NGX_HTTP_BAD_REQUEST
                                     : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  message);
    }

    if (ngx_mam_body_string(r, ctx, "display_name", 1, 100, 1, &name,
                            &message)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    /* surrounding blanks are not part of a name */
    while (name.len && name.data[0] == ' ') {
        name.data++;
        name.len--;
    }
    while (name.len && name.data[name.len - 1] == ' ') {
        name.len--;
    }
    if (name.len == 0) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "display_name: must be 1..100 characters");
    }

    rg->name = ngx_mam_cstr(r->pool, &name);

    if (ngx_mam_accounts_password(r, ctx, &rg->password, &message) != NGX_OK
        || (message = mam_password_check((const char *) rg->password.data,
                                         rg->password.len, rg->email,
                                         ngx_strlen(rg->email)))
           != NULL)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (rg->name == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    rc = ngx_mam_thread_run(r, NGX_MAM_THREAD_HASH, ngx_mam_register_hash,
                            ngx_mam_register_hashed, rg);

    return (rc == NGX_OK) ? NGX_DONE : ngx_mam_thread_refused(r, rc);
}


/* --- POST /auth/login --------------------------------------------------- */

static void
ngx_mam_login_ignore(ngx_http_request_t *r, redisReply *reply, void *data)
{
    (void) r;
    (void) reply;
    (void) data;
}


/* the right secret: the earlier failures counted in key are void */
void
ngx_mam_attempts_forgive(ngx_http_request_t *r, const char *key)
{
    const char           *argv[2];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    argv[0] = "DEL";
    argv[1] = key;

    (void) ngx_mam_redis_command(r, mcf->redis, ngx_mam_login_ignore, NULL,
                                 2, argv, NULL);
}


/* what mam_session_create() refuses with: the account changed between
 * the lookup and the session */
static const ngx_mam_outcome_t  ngx_mam_session_outcomes[] = {
    { MAM_OUTCOME_INACTIVE, NGX_HTTP_FORBIDDEN, "account is not active",
      NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


static void
ngx_mam_login_session(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t           *v;
    ngx_mam_login_t  *lg = data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_session_outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_accounts_send_tokens(r, v, lg->refresh);
}


static void
ngx_mam_login_refused(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_mam_login_t  *lg = data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    if (!lg->verified) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid email or password");
        return;
    }

    ngx_mam_fail(r, NGX_HTTP_FORBIDDEN,
                 ngx_strcmp(lg->status, "pending") == 0
                 ? "account awaits approval by an admin"
                 : "account is disabled");
}


static void
ngx_mam_login_refuse(ngx_http_request_t *r, ngx_mam_login_t *lg)
{
    const char  **values;

    values = ngx_palloc(r->pool, 4 * sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = lg->hash ? lg->user_id : NULL;
    values[1] = ngx_mam_ip(r);
    values[2] = lg->email;
    values[3] = lg->verified ? lg->status : "bad_credentials";

    if (ngx_mam_pg_query(r, "INSERT INTO audit_log (user_id, action, "
                            "target_type, target_id, ip, details) "
                            "VALUES ($1::uuid, 'login_failure', 'user', "
                            "$1::text, "
                            "mam_inet($2), jsonb_build_object('email', $3::text, "
                            "'reason', $4::text))",
                         4, values, ngx_mam_login_refused, lg)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_login_verify(void *data)
{
    ngx_mam_login_t  *lg = data;

    lg->verified = mam_password_verify(lg->hash,
                                       (const char *) lg->password.data,
                                       lg->password.len);
}


static void
ngx_mam_login_verified(ngx_http_request_t *r, void *data)
{
    const char       **values;
    ngx_mam_login_t   *lg = data;

    if (lg->verified) {
        ngx_mam_attempts_forgive(r, lg->fail_key);
    }

    if (!lg->verified || ngx_strcmp(lg->status, "active") != 0) {
        ngx_mam_login_refuse(r, lg);
        return;
    }

    values = ngx_palloc(r->pool, 5 * sizeof(char *));
    if (values == NULL || mam_random_token(lg->refresh) != 0) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    mam_sha256_hex(lg->refresh, NGX_MAM_REFRESH_LEN, lg->refresh_hash);

    values[0] = lg->user_id;
    values[1] = lg->refresh_hash;
    values[2] = ngx_mam_accounts_ttl(r);
    values[3] = ngx_mam_ip(r);
    values[4] = ngx_mam_accounts_user_agent(r);

    if (ngx_mam_pg_query(r, "SELECT mam_session_create($1, $2, $3, $4, $5)",
                         5, values, ngx_mam_login_session, lg)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_login_found(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_int_t         rc;
    ngx_str_t         hash;
    ngx_mam_login_t  *lg = data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
        return;
    }

    if (PQntuples(res) == 1) {
        ngx_cpystrn((u_char *) lg->user_id, (u_char *) PQgetvalue(res, 0, 0),
                    sizeof(lg->user_id));
        ngx_cpystrn((u_char *) lg->status, (u_char *) PQgetvalue(res, 0, 1),
                    sizeof(lg->status));
        hash.data = (u_char *) PQgetvalue(res, 0, 2);
        hash.len = PQgetlength(res, 0, 2);
        lg->hash = ngx_mam_cstr(r->pool, &hash);
        if (lg->hash == NULL) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }

    /* no account: lg->hash stays NULL and a dummy hash is verified */
    rc = ngx_mam_thread_run(r, NGX_MAM_THREAD_HASH, ngx_mam_login_verify,
                            ngx_mam_login_verified, lg);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_mam_thread_refused(r, rc));
    }
}


static void
ngx_mam_login_lookup(ngx_http_request_t *r, ngx_mam_login_t *lg)
{
    const char  **values;

    values = ngx_palloc(r->pool, sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = lg->email;

    if (ngx_mam_pg_query(r, "SELECT id, status, password_hash FROM users "
                            "WHERE lower(email) = $1",
                         1, values, ngx_mam_login_found, lg)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/*
 * An attempt counted in the counters keys[0 .. n - 1], each with its own
 * limit in window seconds: done(r, reply, data) is called with the
 * script's answer, which ngx_mam_attempts_refused() reads.  NGX_ERROR when
 * the command could not be sent.
 */
ngx_int_t
ngx_mam_attempts_check(ngx_http_request_t *r, const char **keys,
    const char **limits, ngx_uint_t n, const char *window,
    ngx_mam_redis_handler_pt done, void *data)
{
    ngx_uint_t            i;
    const char           *argv[4 + 2 * NGX_MAM_ATTEMPT_MAX_KEYS];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (n == 0 || n > NGX_MAM_ATTEMPT_MAX_KEYS) {
        return NGX_ERROR;
    }

    argv[0] = "EVAL";
    argv[1] = ngx_mam_attempt_script;
    argv[2] = ngx_mam_message(r->pool, "%ui", n);
    argv[3 + n] = window;

    for (i = 0; i < n; i++) {
        argv[3 + i] = keys[i];
        argv[4 + n + i] = limits[i];
    }

    if (argv[2] == NULL) {
        return NGX_ERROR;
    }

    return ngx_mam_redis_command(r, mcf->redis, done, data, 4 + 2 * n, argv,
                                 NULL);
}


/* the answer of ngx_mam_attempts_check(): NGX_OK when the attempt may go
 * on (also without Redis: the limit, named by what, fails open, logged),
 * NGX_DECLINED when it was refused: 429 with Retry-After and message,
 * sent */
ngx_int_t
ngx_mam_attempts_refused(ngx_http_request_t *r, redisReply *reply,
    const char *what, const char *message)
{
    u_char     *p;
    ngx_str_t   value;
    long long   ttl;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mam: redis unavailable, %s limit not applied", what);
        return NGX_OK;
    }

    if (reply->element[0]->integer == 0) {
        return NGX_OK;
    }

    ttl = reply->element[1]->integer;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return NGX_DECLINED;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%L", ttl > 0 ? ttl : 1) - p;

    (void) ngx_mam_add_header(r, "Retry-After", &value);
    ngx_mam_fail(r, NGX_HTTP_TOO_MANY_REQUESTS, message);

    return NGX_DECLINED;
}


static void
ngx_mam_login_checked(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_mam_login_t  *lg = data;

    if (ngx_mam_attempts_refused(r, reply, "failed-login",
                                 "too many failed logins; try again later")
        == NGX_OK)
    {
        ngx_mam_login_lookup(r, lg);
    }
}


ngx_int_t
ngx_mam_login_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    u_char               *who, *key;
    size_t                len;
    char                  digest[65];
    const char           *message, *limit;
    ngx_mam_login_t      *lg;

    lg = ngx_pcalloc(r->pool, sizeof(ngx_mam_login_t));
    if (lg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    lg->email = ngx_mam_accounts_email(r, ctx, &message);
    if (lg->email == NULL) {
        return ngx_mam_send_error(r, message ? NGX_HTTP_BAD_REQUEST
                                     : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  message);
    }

    if (ngx_mam_accounts_password(r, ctx, &lg->password, &message)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    /* failures are counted per email and client address */
    len = ngx_strlen(lg->email) + 1 + ngx_mam_client_ip(r)->len;
    who = ngx_pnalloc(r->pool, len);
    key = ngx_pnalloc(r->pool, sizeof("mam:rl:login:") + 64);
    if (who == NULL || key == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_sprintf(who, "%s|%V", lg->email, ngx_mam_client_ip(r));
    mam_sha256_hex(who, len, digest);
    *ngx_sprintf(key, "mam:rl:login:%s", digest) = '\0';
    lg->fail_key = (char *) key;

    limit = NGX_MAM_LOGIN_FAILURES;

    if (ngx_mam_attempts_check(r, (const char **) &lg->fail_key, &limit, 1,
                               NGX_MAM_LOGIN_WINDOW, ngx_mam_login_checked,
                               lg)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- POST /auth/refresh ------------------------------------------------- */

static ngx_int_t
ngx_mam_refresh_clear_cookie(ngx_http_request_t *r)
{
    return ngx_mam_accounts_cookie(r, "", 0);
}


static void
ngx_mam_refresh_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t         *v;
    char           *refresh = data;
    mam_outcome_t   outcome;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return;
    }

    outcome = ngx_mam_outcome(v);

    if (outcome == MAM_OUTCOME_OK) {
        ngx_mam_accounts_send_tokens(r, v, refresh);
        return;
    }

    (void) ngx_mam_refresh_clear_cookie(r);

    ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED,
                 outcome == MAM_OUTCOME_REUSE
                 ? "refresh token reuse detected: the session was revoked"
                 : "invalid or expired refresh token");
}


/* the token from the body, else from the mam_refresh cookie */
static ngx_int_t
ngx_mam_refresh_token(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_str_t *token)
{
    json_t     *v;
    ngx_str_t   name = ngx_string("mam_refresh");

    v = ctx->body ? json_object_get(ctx->body, "refresh_token") : NULL;

    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            return NGX_ERROR;
        }
        token->data = (u_char *) json_string_value(v);
        token->len = json_string_length(v);

    } else if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies,
                                                 &name, token)
               == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

    if (token->len != NGX_MAM_REFRESH_LEN) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_mam_refresh_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    char         *refresh, *old_hash, *new_hash;
    ngx_int_t     rc;
    ngx_str_t     token;
    const char  **values;

    rc = ngx_mam_refresh_token(r, ctx, &token);

    if (rc == NGX_ERROR) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "refresh_token: must be a string");
    }

    if (rc != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                  "invalid or expired refresh token");
    }

    refresh = ngx_pnalloc(r->pool, NGX_MAM_REFRESH_LEN + 1);
    old_hash = ngx_pnalloc(r->pool, 65);
    new_hash = ngx_pnalloc(r->pool, 65);
    values = ngx_palloc(r->pool, 5 * sizeof(char *));

    if (refresh == NULL || old_hash == NULL || new_hash == NULL
        || values == NULL || mam_random_token(refresh) != 0)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    mam_sha256_hex(token.data, token.len, old_hash);
    mam_sha256_hex(refresh, NGX_MAM_REFRESH_LEN, new_hash);

    values[0] = old_hash;
    values[1] = new_hash;
    values[2] = ngx_mam_accounts_ttl(r);
    values[3] = ngx_mam_ip(r);
    values[4] = ngx_mam_accounts_user_agent(r);

    if (ngx_mam_pg_query(r, "SELECT mam_refresh($1, $2, $3, $4, $5)", 5,
                         values, ngx_mam_refresh_done, refresh)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- POST /auth/logout -------------------------------------------------- */

static void
ngx_mam_logout_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    (void) data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    if (ngx_mam_refresh_clear_cookie(r) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
}


static const ngx_mam_field_t  ngx_mam_logout_fields[] = {
    { "all", ngx_mam_field_boolean, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

/* POST /auth/logout: this session, or with "all" every session of the
 * user; the answer clears the refresh cookie */
const ngx_mam_statement_t  ngx_mam_logout = {
    "SELECT mam_logout($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_SID, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_IP },
    ngx_mam_logout_fields, 0, NULL,
    ngx_mam_logout_done, NULL, NGX_HTTP_NO_CONTENT, NULL
};


/* --- GET /auth/me ------------------------------------------------------- */

/*
 * The floor of every authenticated request: the gate's one Redis round
 * trip brings the user's item cached under its authz_version (route flag
 * NGX_MAM_ROUTE_USER_ITEM), so a current one is answered without
 * PostgreSQL.  Otherwise the statement reads it and caches it for the next
 * request.  A change of roles or status raises authz_version, which the
 * gate reads at each request, so a cached item never outlives one.
 */

static void
ngx_mam_me_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    ngx_str_t          item;
    ngx_mam_ctx_t     *ctx;
    ngx_mam_answer_t   a;

    (void) data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    if (PQntuples(res) != 1) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "unknown user");
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    item.data = (u_char *) PQgetvalue(res, 0, 0);
    item.len = PQgetlength(res, 0, 0);

    if (ctx != NULL && item.len > 0) {
        ngx_mam_user_item_cache_set(r, ctx->user.sub, PQgetvalue(res, 0, 1),
                                    &item);
    }

    ngx_mam_answer_init(r, &a);
    ngx_mam_answer_text(&a, "{\"user\":");
    ngx_mam_answer_add_items(&a, res, 0, 0, 1);
    ngx_mam_answer_text(&a, "}");
    ngx_mam_answer_finish(r, &a);
}


/* GET /auth/me: the token's user as it is now */
const ngx_mam_statement_t  ngx_mam_user_me = {
    NGX_MAM_SQL_USER_GET, 1, { NGX_MAM_ARG_USER },
    NULL, 0, NULL,
    ngx_mam_me_done, NULL, NGX_HTTP_OK, NULL
};


ngx_int_t
ngx_mam_me_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_mam_answer_t  a;

    if (ctx->user_item.len == 0 || ctx->user_item_av != ctx->authz_av) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mam: /auth/me: no current cached item");
        return ngx_mam_statement_handler(r, ctx);
    }

    ngx_mam_answer_init(r, &a);
    ngx_mam_answer_text(&a, "{\"user\":");
    ngx_mam_answer_add(&a, (char *) ctx->user_item.data, ctx->user_item.len);
    ngx_mam_answer_text(&a, "}");

    if (a.failed) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return ngx_mam_answer_send(r, NGX_HTTP_OK, &a);
}
