/*
 * The gate every API request passes before its handler: the access token
 * (HS256, verified in the worker, no I/O), the per-IP and per-user request
 * limits and the user's current authz_version, then the route's role.
 *
 * One Redis round trip (a script) counts the request in its rate windows
 * and reads the cached "authz_version:status" of the token's user.  Only a
 * cache miss costs a PostgreSQL query; the answer is then cached for a
 * minute.  An admin's change writes the new value at once (monotonic: a
 * higher authz_version always wins), so every worker and every host sees it
 * on the next request.  Redis down: limits fail open (logged) and the
 * check falls back to PostgreSQL.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"
#include "mam_contract.h"


#define NGX_MAM_RATE_WINDOW      60
#define NGX_MAM_AUTHZ_CACHE_TTL  "60"
#define NGX_MAM_USER_ITEM_KEY    "mam:me:"


#define NGX_MAM_GATE_MAX_ARGS    10


typedef struct {
    ngx_uint_t    nlimits;
    ngx_uint_t    limits[2];
    /* the command, kept to send the script's text after a NOSCRIPT */
    int           argc;
    const char   *argv[NGX_MAM_GATE_MAX_ARGS];
    unsigned long memo_gen;   /* the authz memo's when the read was asked */
} ngx_mam_gate_t;


/* KEYS: ARGV[1] counters, then keys to read (the user's authz_version and
 * status, and the user's item where the route answers it) */
static const char  ngx_mam_gate_script[] =
    "local n = tonumber(ARGV[1]) "
    "local out = {} "
    "for i = 1, n do "
    "  local c = redis.call('INCR', KEYS[i]) "
    "  if c == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2]) end "
    "  out[i] = c "
    "end "
    "for i = n + 1, #KEYS do out[i] = redis.call('GET', KEYS[i]) or '' end "
    "return out";

/* the script's id for EVALSHA: Redis keeps scripts it has run, so a request
 * sends 40 bytes instead of the text (and Redis does not hash it again) */
static char  ngx_mam_gate_script_sha[41];

static const char  ngx_mam_authz_set_script[] =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then "
    "  local av = tonumber(string.match(cur, '^(%d+):')) "
    "  if av and av > tonumber(ARGV[1]) then return 0 end "
    "end "
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
    "if cur ~= ARGV[2] then "
    "  redis.call('PUBLISH', '" MAM_CHANNEL_AUTHZ "', KEYS[1] .. ' ' .. "
    "ARGV[2]) "
    "end "
    "return 1";


static void ngx_mam_gate_check_user(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    long av, ngx_str_t *status);
static void ngx_mam_gate_limits(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
static ngx_int_t ngx_mam_gate_memo(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
static void ngx_mam_gate_memo_put(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    long av, ngx_str_t *status);
static void ngx_mam_gate_send(ngx_http_request_t *r, ngx_mam_ctx_t *ctx);
static void ngx_mam_gate_user_item(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    redisReply *el);


ngx_str_t *
ngx_mam_client_ip(ngx_http_request_t *r)
{
    return &r->connection->addr_text;
}


/* the client address as a NUL-terminated string for SQL ("" if no memory) */
const char *
ngx_mam_ip(ngx_http_request_t *r)
{
    char  *ip;

    ip = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));

    return ip ? ip : "";
}


ngx_uint_t
ngx_mam_has_role(ngx_mam_ctx_t *ctx, ngx_uint_t role)
{
    ngx_uint_t  roles;

    if (!ctx->authenticated) {
        return 0;
    }

    roles = ctx->user.roles;

    /* admin includes editor, editor includes viewer */
    if (roles & MAM_ROLE_ADMIN) {
        roles |= MAM_ROLE_EDITOR;
    }
    if (roles & MAM_ROLE_EDITOR) {
        roles |= MAM_ROLE_VIEWER;
    }

    return (roles & role) == role;
}


ngx_uint_t
ngx_mam_may_modify(ngx_mam_ctx_t *ctx, ngx_str_t *owner_id)
{
    if (ngx_mam_has_role(ctx, MAM_ROLE_ADMIN)) {
        return 1;
    }

    return ngx_mam_has_role(ctx, MAM_ROLE_EDITOR)
           && owner_id->len == MAM_UUID_LEN
           && ngx_strncmp(owner_id->data, ctx->user.sub, MAM_UUID_LEN) == 0;
}


static void
ngx_mam_gate_ignore_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    (void) r;
    (void) reply;
    (void) data;
}


/* a write of mam:authz:{id} that was asked for, and what to do then */
typedef struct {
    ngx_mam_redis_handler_pt  done;
    void                     *data;
    char                      user[MAM_UUID_LEN + 1];
} ngx_mam_authz_write_t;


/* the write is answered: this host's memos stop using what they read of
 * the user before the answer goes on (libmam mam_authz.h) */
static void
ngx_mam_authz_cache_written(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_mam_authz_write_t  *w = data;
    ngx_mam_main_conf_t    *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->authz_zone && mcf->authz_zone->data) {
        mam_authz_changes_bump(mcf->authz_zone->data, w->user);
    }

    w->done(r, reply, w->data);
}


void
ngx_mam_authz_cache_set(ngx_http_request_t *r, const char *user_id, long av,
    const char *status, ngx_mam_redis_handler_pt done, void *data)
{
    u_char                 *key, *value, *avs;
    const char             *argv[7];
    ngx_mam_main_conf_t    *mcf;
    ngx_mam_authz_write_t  *w;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    key = ngx_pnalloc(r->pool, sizeof(MAM_AUTHZ_KEY) + MAM_UUID_LEN);
    value = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 16);
    avs = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
    w = ngx_palloc(r->pool, sizeof(ngx_mam_authz_write_t));
    if (done == NULL) {
        done = ngx_mam_gate_ignore_reply;
    }

    if (key == NULL || value == NULL || avs == NULL || w == NULL) {
        done(r, NULL, data);
        return;
    }

    w->done = done;
    w->data = data;
    *ngx_cpymem(w->user, user_id, MAM_UUID_LEN) = '\0';

    *ngx_sprintf(key, MAM_AUTHZ_KEY "%s", user_id) = '\0';
    *ngx_sprintf(value, "%l:%s", av, status) = '\0';
    *ngx_sprintf(avs, "%l", av) = '\0';

    argv[0] = "EVAL";
    argv[1] = ngx_mam_authz_set_script;
    argv[2] = "1";
    argv[3] = (char *) key;
    argv[4] = (char *) avs;
    argv[5] = (char *) value;
    argv[6] = NGX_MAM_AUTHZ_CACHE_TTL;

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_authz_cache_written, w,
                              7, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_authz_cache_written(r, NULL, w);
    }
}


/* a JWT verified into *user: NGX_OK, or NGX_ERROR for any fault */
static ngx_int_t
ngx_mam_verify_token(ngx_http_request_t *r, ngx_str_t *token,
    mam_jwt_claims_t *user)
{
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    /* workers without the API (init_process made no memo) verify the
     * long way */
    if (mcf->jwt_memo == NULL) {
        return mam_jwt_verify(mcf->jwt_key.data, mcf->jwt_key.len,
                              (const char *) token->data, token->len,
                              (long) ngx_time(), user) == 0
               ? NGX_OK : NGX_ERROR;
    }

    return mam_jwt_verify_memo(mcf->jwt_memo, (const char *) token->data,
                               token->len, (long) ngx_time(), user) == 0
           ? NGX_OK : NGX_ERROR;
}


/* "Authorization: Bearer <jwt>": NGX_OK with *user, NGX_DECLINED without
 * the header, NGX_ERROR when it is not a valid token */
ngx_int_t
ngx_mam_auth_bearer(ngx_http_request_t *r, mam_jwt_claims_t *user)
{
    u_char           *p, *last;
    ngx_str_t         token;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;
    if (h == NULL) {
        return NGX_DECLINED;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_ERROR;
    }

    for (p += sizeof("Bearer ") - 1; p < last && *p == ' '; p++) {
        /* void */
    }

    token.data = p;
    token.len = last - p;

    return ngx_mam_verify_token(r, &token, user);
}


/* the request's access token verified into ctx->user */
static ngx_int_t
ngx_mam_gate_token(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_mam_auth_bearer(r, &ctx->user);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->authenticated = 1;

    return NGX_OK;
}


/* GETDEL of mam:evt:{sha256(ticket)}: "sub av exp roles" */
static void
ngx_mam_gate_ticket_done(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    u_char            *p, *last, *sp;
    long               n[3];
    ngx_uint_t         i;
    ngx_mam_ctx_t     *ctx = data;
    mam_jwt_claims_t  *u = &ctx->user;

    if (reply == NULL) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || reply->len < MAM_UUID_LEN + 6
        || reply->str[MAM_UUID_LEN] != ' ')
    {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid or expired ticket");
        return;
    }

    p = (u_char *) reply->str + MAM_UUID_LEN + 1;
    last = (u_char *) reply->str + reply->len;

    for (i = 0; i < 3; i++) {
        sp = ngx_strlchr(p, last, ' ');
        n[i] = ngx_atoi(p, (sp ? sp : last) - p);
        if (n[i] == NGX_ERROR || (sp == NULL) != (i == 2)) {
            ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid ticket");
            return;
        }
        p = sp + 1;
    }

    /* the token it was taken with has expired meanwhile */
    if (n[1] <= (long) ngx_time()) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid or expired ticket");
        return;
    }

    ngx_memcpy(u->sub, reply->str, MAM_UUID_LEN);
    u->sub[MAM_UUID_LEN] = '\0';
    u->av = n[0];
    u->exp = n[1];
    u->roles = (unsigned) n[2];
    ctx->authenticated = 1;

    /* then as a token: limits, authz_version and status */
    ngx_mam_gate_limits(r, ctx);
}


/* ?ticket= of an event stream, consumed (single use) */
static void
ngx_mam_gate_ticket(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_str_t *ticket)
{
    char                  digest[65];
    ngx_uint_t            i;
    const char           *argv[2];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    for (i = 0; i < ticket->len; i++) {
        if (!ngx_mam_is_token_char(ticket->data[i])) {
            break;
        }
    }

    if (ticket->len != 43 || i != ticket->len) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid or expired ticket");
        return;
    }

    mam_sha256_hex(ticket->data, ticket->len, digest);

    argv[0] = "GETDEL";
    argv[1] = ngx_mam_message(r->pool, "mam:evt:%s", digest);

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_gate_ticket_done, ctx,
                              2, argv, NULL)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static ngx_uint_t
ngx_mam_gate_required_role(ngx_mam_access_e access)
{
    switch (access) {
    case NGX_MAM_ADMIN:
        return MAM_ROLE_ADMIN;
    case NGX_MAM_EDITOR:
        return MAM_ROLE_EDITOR;
    default:
        return 0;
    }
}


/* the token's user is current: run the role check, then the handler */
static void
ngx_mam_gate_pass(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t  role;

    role = ngx_mam_gate_required_role(ctx->route->access);

    if (role && !ngx_mam_has_role(ctx, role)) {
        ngx_mam_fail(r, NGX_HTTP_FORBIDDEN, role == MAM_ROLE_ADMIN
                                            ? "admin role required"
                                            : "editor role required");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: gate: \"%s\" passes", ctx->route->pattern);

    if (ctx->access_phase) {
        ctx->passed = 1;
        ngx_http_core_run_phases(r);
        return;
    }

    ngx_mam_router_run_handler(r, ctx);
}


static void
ngx_mam_gate_pg_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    long            av;
    ngx_str_t       status;
    ngx_mam_ctx_t  *ctx = data;

    if (!ngx_mam_pg_ok(res)) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
        return;
    }

    if (PQntuples(res) != 1) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "unknown user");
        return;
    }

    av = ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
    status.data = (u_char *) PQgetvalue(res, 0, 1);
    status.len = PQgetlength(res, 0, 1);

    ngx_mam_authz_cache_set(r, ctx->user.sub, av, (char *) status.data,
                            NULL, NULL);

    ngx_mam_gate_check_user(r, ctx, av, &status);
}


static void
ngx_mam_gate_check_user(ngx_http_request_t *r, ngx_mam_ctx_t *ctx, long av,
    ngx_str_t *status)
{
    ctx->authz_av = av;

    if (av > ctx->user.av) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED,
                     "token outdated: roles or status changed");
        return;
    }

    if (status->len != 6 || ngx_strncmp(status->data, "active", 6) != 0) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "account is not active");
        return;
    }

    ngx_mam_gate_pass(r, ctx);
}


static void
ngx_mam_gate_authz_from_pg(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char  **values;

    values = ngx_palloc(r->pool, sizeof(char *));
    if (values == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    values[0] = ctx->user.sub;

    if (ngx_mam_pg_query(r, "SELECT authz_version, status FROM users "
                            "WHERE id = $1", 1, values,
                         ngx_mam_gate_pg_done, ctx)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static ngx_int_t
ngx_mam_gate_retry_after(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%T", NGX_MAM_RATE_WINDOW
                                     - ngx_time() % NGX_MAM_RATE_WINDOW)
                - p;

    return ngx_mam_add_header(r, "Retry-After", &value);
}


static void
ngx_mam_gate_redis_done(ngx_http_request_t *r, redisReply *reply, void *data)
{
    size_t           i;
    ngx_str_t        status;
    redisReply      *el;
    ngx_mam_ctx_t   *ctx = data;
    ngx_mam_gate_t  *g = ctx->data;
    u_char          *colon;
    long             av;

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && ngx_strcmp(g->argv[0], "EVALSHA") == 0)
    {
        /* a Redis that restarted or flushed its scripts: the text, once */
        g->argv[0] = "EVAL";
        g->argv[1] = ngx_mam_gate_script;
        ngx_mam_gate_send(r, ctx);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < g->nlimits)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mam: redis unavailable, request limits not applied");

        if (ctx->authenticated) {
            ngx_mam_gate_authz_from_pg(r, ctx);
        } else {
            ngx_mam_gate_pass(r, ctx);
        }
        return;
    }

    for (i = 0; i < g->nlimits; i++) {
        el = reply->element[i];
        if (el->type == REDIS_REPLY_INTEGER
            && (ngx_uint_t) el->integer > g->limits[i])
        {
            (void) ngx_mam_gate_retry_after(r);
            ngx_mam_fail(r, NGX_HTTP_TOO_MANY_REQUESTS, NULL);
            return;
        }
    }

    if (!ctx->authenticated) {
        ngx_mam_gate_pass(r, ctx);
        return;
    }

    el = reply->elements > g->nlimits ? reply->element[g->nlimits] : NULL;
    colon = (el && el->type == REDIS_REPLY_STRING)
            ? (u_char *) ngx_strlchr((u_char *) el->str,
                                     (u_char *) el->str + el->len, ':')
            : NULL;

    if (colon == NULL) {
        ngx_mam_gate_authz_from_pg(r, ctx);
        return;
    }

    av = ngx_atoi((u_char *) el->str, colon - (u_char *) el->str);
    status.data = colon + 1;
    status.len = (u_char *) el->str + el->len - status.data;

    if (av == NGX_ERROR) {
        ngx_mam_gate_authz_from_pg(r, ctx);
        return;
    }

    ngx_mam_gate_memo_put(r, ctx, av, &status);

    if (ctx->route->flags & NGX_MAM_ROUTE_USER_ITEM
        && reply->elements > g->nlimits + 1)
    {
        ngx_mam_gate_user_item(r, ctx, reply->element[g->nlimits + 1]);
    }

    ngx_mam_gate_check_user(r, ctx, av, &status);
}


/* the user's cached item, "authz_version:item", kept for the route; an
 * absent or malformed one leaves ctx->user_item empty */
static void
ngx_mam_gate_user_item(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    redisReply *el)
{
    u_char  *colon, *end;

    if (el->type != REDIS_REPLY_STRING) {
        return;
    }

    end = (u_char *) el->str + el->len;
    colon = ngx_strlchr((u_char *) el->str, end, ':');
    if (colon == NULL || colon + 1 == end) {
        return;
    }

    ctx->user_item_av = ngx_atoi((u_char *) el->str,
                                 colon - (u_char *) el->str);
    ctx->user_item.len = end - colon - 1;
    ctx->user_item.data = ngx_pnalloc(r->pool, ctx->user_item.len);

    if (ctx->user_item_av == NGX_ERROR || ctx->user_item.data == NULL) {
        ctx->user_item.len = 0;
        return;
    }

    ngx_memcpy(ctx->user_item.data, colon + 1, ctx->user_item.len);
}


/* mam:me:{id}: the user's item as of its authz_version, "av:item" */
void
ngx_mam_user_item_cache_set(ngx_http_request_t *r, const char *user_id,
    const char *av, ngx_str_t *item)
{
    u_char               *key, *value;
    const char           *argv[5];
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    key = ngx_pnalloc(r->pool, sizeof(NGX_MAM_USER_ITEM_KEY) + MAM_UUID_LEN);
    value = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 2 + item->len);
    if (key == NULL || value == NULL) {
        return;
    }

    *ngx_sprintf(key, NGX_MAM_USER_ITEM_KEY "%s", user_id) = '\0';
    *ngx_sprintf(value, "%s:%V", av, item) = '\0';

    argv[0] = "SET";
    argv[1] = (char *) key;
    argv[2] = (char *) value;
    argv[3] = "EX";
    argv[4] = NGX_MAM_AUTHZ_CACHE_TTL;

    (void) ngx_mam_redis_command(r, mcf->redis, ngx_mam_gate_ignore_reply,
                                 NULL, 5, argv, NULL);
}


static u_char *
ngx_mam_gate_key(ngx_http_request_t *r, const char *scope, ngx_str_t *who)
{
    u_char  *key;

    key = ngx_pnalloc(r->pool, 64 + who->len);
    if (key == NULL) {
        return NULL;
    }

    *ngx_sprintf(key, "mam:rl:%s:%V:%T", scope, who,
                 ngx_time() / NGX_MAM_RATE_WINDOW) = '\0';

    return key;
}


void
ngx_mam_auth_gate(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  arg;

    if (ctx->route->access == NGX_MAM_UNLIMITED) {
        ngx_mam_gate_pass(r, ctx);
        return;
    }

    rc = ngx_mam_gate_token(r, ctx);

    /* EventSource cannot send headers: a single-use ticket stands for the
     * token there; a token in the URL (it ends up in access logs) is
     * refused, never verified */
    if (rc == NGX_DECLINED && (ctx->route->flags & NGX_MAM_ROUTE_TICKET)) {

        if (ngx_http_arg(r, (u_char *) "access_token", 12, &arg) == NGX_OK) {
            ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "access tokens are not "
                         "accepted in URLs: take a ticket (POST "
                         "/api/preview/events/ticket)");
            return;
        }

        if (ngx_http_arg(r, (u_char *) "ticket", 6, &arg) == NGX_OK) {
            ngx_mam_gate_ticket(r, ctx, &arg);
            return;
        }
    }

    if (ctx->route->access < NGX_MAM_USER) {
        /* a public route ignores a token it does not need */
        ctx->authenticated = 0;

    } else if (rc != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED,
                     rc == NGX_DECLINED ? "access token required"
                                        : "invalid or expired access token");
        return;
    }

    ngx_mam_gate_limits(r, ctx);
}


/* the request limits and the user's current authz_version, in one script */
static void
ngx_mam_gate_limits(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    int                   nkeys, i;
    u_char               *key;
    ngx_str_t             user;
    ngx_uint_t            limit;
    const char           *keys[4], *scope;
    ngx_mam_gate_t       *g;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (!mcf->rate_limits && ngx_mam_gate_memo(r, ctx) == NGX_OK) {
        return;
    }

    g = ngx_pcalloc(r->pool, sizeof(ngx_mam_gate_t));
    if (g == NULL) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    ctx->data = g;

    if (mcf->authz_memo) {
        g->memo_gen = mam_authz_memo_gen(mcf->authz_memo, ctx->user.sub);
    }

    nkeys = 0;

    if (mcf->rate_limits) {
        switch (ctx->route->window) {

        case NGX_MAM_WINDOW_CALLBACK:
            /* transcoderd's signed callbacks have a window of their own:
             * a flood of forged ones from an address does not spend the
             * users' requests from that address, nor the other way round */
            scope = "callback";
            limit = mcf->rate_limit_callback;
            break;

        case NGX_MAM_WINDOW_AUTH:
            scope = "auth";
            limit = mcf->rate_limit_auth;
            break;

        default:
            scope = "api";
            limit = mcf->rate_limit_api;
        }

        key = ngx_mam_gate_key(r, scope, ngx_mam_client_ip(r));
        keys[nkeys++] = (char *) key;
        g->limits[g->nlimits++] = limit;

        if (ctx->authenticated) {
            user.data = (u_char *) ctx->user.sub;
            user.len = MAM_UUID_LEN;
            key = ngx_mam_gate_key(r, "user", &user);
            keys[nkeys++] = (char *) key;
            g->limits[g->nlimits++] = mcf->rate_limit_user;
        }
    }

    if (ctx->authenticated) {
        key = ngx_pnalloc(r->pool, sizeof(MAM_AUTHZ_KEY) + MAM_UUID_LEN);
        if (key != NULL) {
            *ngx_sprintf(key, MAM_AUTHZ_KEY "%s", ctx->user.sub) = '\0';
        }
        keys[nkeys++] = (char *) key;

        if (ctx->route->flags & NGX_MAM_ROUTE_USER_ITEM) {
            key = ngx_pnalloc(r->pool,
                              sizeof(NGX_MAM_USER_ITEM_KEY) + MAM_UUID_LEN);
            if (key != NULL) {
                *ngx_sprintf(key, NGX_MAM_USER_ITEM_KEY "%s",
                             ctx->user.sub) = '\0';
            }
            keys[nkeys++] = (char *) key;
        }
    }

    if (nkeys == 0) {
        ngx_mam_gate_pass(r, ctx);
        return;
    }

    if (g->nlimits == 0) {
        /* nothing to count (limits off): the keys are only read, with a
         * plain MGET, whose answer has the script's shape (nil for ''),
         * and Redis runs no Lua for it */
        g->argv[g->argc++] = "MGET";

    } else {
        if (ngx_mam_gate_script_sha[0] == '\0') {
            mam_sha1_hex(ngx_mam_gate_script,
                         sizeof(ngx_mam_gate_script) - 1,
                         ngx_mam_gate_script_sha);
        }

        /* EVALSHA id numkeys key... ARGV[1]=number of counters
         * ARGV[2]=ttl */
        g->argv[g->argc++] = "EVALSHA";
        g->argv[g->argc++] = ngx_mam_gate_script_sha;
        g->argv[g->argc++] = ngx_mam_message(r->pool, "%d", nkeys);
    }

    for (i = 0; i < nkeys; i++) {
        if (keys[i] == NULL) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
        g->argv[g->argc++] = keys[i];
    }

    if (g->nlimits > 0) {
        g->argv[g->argc++] = ngx_mam_message(r->pool, "%ui", g->nlimits);
        g->argv[g->argc++] = ngx_mam_message(r->pool, "%d",
                                             NGX_MAM_RATE_WINDOW + 1);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: gate: %d keys to Redis, token %s", nkeys,
                   ctx->authenticated ? "valid" : "none");

    ngx_mam_gate_send(r, ctx);
}


/*
 * With mam_rate_limits off the gate has nothing to count, and Redis is
 * asked only for the user's authz_version and status, which change when
 * an admin changes the user or a membership: each worker remembers them
 * (libmam/mam_authz.c) and hears every change on the events' subscription
 * to mam:authz, where the script that writes mam:authz:{id} publishes it.
 * Hearing may come late on this host (Redis can write the change's own
 * answer before the published copies, and the client's next request can
 * be read first): the worker that made the change bumps the user's shared
 * counter before its answer goes out, and a remembered read from before
 * that is not used (ngx_mam_authz_cache_set).  A remembered user passes
 * without a round trip to Redis; a route that brings the user's item
 * (/auth/me) reads Redis anyway.  NGX_DECLINED: not remembered, ask Redis.
 */
static ngx_int_t
ngx_mam_gate_memo(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    int                   active;
    long                  av;
    ngx_str_t             status;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->authz_memo == NULL || !ctx->authenticated
        || (ctx->route->flags & NGX_MAM_ROUTE_USER_ITEM)
        || !mam_authz_memo_get(mcf->authz_memo, ctx->user.sub,
                               (long long) ngx_current_msec, &av, &active))
    {
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: gate: authz of %s remembered, av %l",
                   ctx->user.sub, av);

    if (active) {
        ngx_str_set(&status, "active");
    } else {
        ngx_str_set(&status, "inactive");
    }

    ngx_mam_gate_check_user(r, ctx, av, &status);

    return NGX_OK;
}


/* what a plain read (MGET, limits off) of the user's authz answered */
static void
ngx_mam_gate_memo_put(ngx_http_request_t *r, ngx_mam_ctx_t *ctx, long av,
    ngx_str_t *status)
{
    ngx_mam_gate_t       *g = ctx->data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (mcf->authz_memo == NULL || g->nlimits > 0) {
        return;
    }

    mam_authz_memo_put(mcf->authz_memo, ctx->user.sub, av,
                       status->len == 6
                       && ngx_strncmp(status->data, "active", 6) == 0,
                       g->memo_gen, (long long) ngx_current_msec);
}


static void
ngx_mam_gate_send(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_mam_gate_t       *g = ctx->data;
    ngx_mam_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    if (ngx_mam_redis_command(r, mcf->redis, ngx_mam_gate_redis_done, ctx,
                              g->argc, g->argv, NULL)
        != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}
