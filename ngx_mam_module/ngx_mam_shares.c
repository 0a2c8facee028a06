/*
 * Review links (issue 22): a member makes a link /r/{token} to assets or
 * a folder of a project; people without an account open it, give its
 * passphrase (if it has one) and their name, and watch, comment and
 * approve as far as the link allows.  Who may do what is the SQL
 * functions' (schema/functions/shares.sql).
 *
 * The token is 256 random bits (mam_random_token), shown once in the
 * creation's answer; PostgreSQL keeps its SHA-256 only.  A guest's
 * session is a random value in the cookie mam_guest, scoped to the
 * link's API path (/api/r/{token}), HttpOnly and SameSite=Strict (and
 * Secure over HTTPS); PostgreSQL keeps its SHA-256.  A passphrase is
 * hashed and verified with Argon2id on the hash thread pool, and failed
 * tries are limited per link and per client address on the link as
 * failed logins are (ngx_mam_attempts_check).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"

#include "mam_password.h"
#include "mam_util.h"


#define NGX_MAM_SHARE_TOKEN_LEN       43
#define NGX_MAM_SHARE_ASSETS_MAX      100
#define NGX_MAM_PASSPHRASE_MAX_BYTES  1024
#define NGX_MAM_GUEST_NAME_MAX        100
#define NGX_MAM_GUEST_EMAIL_MAX       254
#define NGX_MAM_GUEST_TTL             900       /* a guest's playback URL
                                                   (its statement's too) */

/* failed passphrases: per client address on a link, and per link from
 * every address, in 15 minutes */
#define NGX_MAM_PASSPHRASE_FAILURES_CLIENT  "5"
#define NGX_MAM_PASSPHRASE_FAILURES_LINK    "50"
#define NGX_MAM_PASSPHRASE_WINDOW           "900"


typedef struct {
    ngx_str_t            passphrase;     /* as sent, or empty */
    ngx_uint_t           remove;         /* PATCH passphrase: null */
    char                 encoded[MAM_PASSWORD_ENCODED_MAX];
    int                  rc;
    char                 token[NGX_MAM_SHARE_TOKEN_LEN + 1];
    char                 token_hash[65];
} ngx_mam_share_write_t;


typedef struct {
    char                *hash;           /* the link's passphrase hash */
    ngx_str_t            passphrase;
    const char          *name;
    const char          *email;
    const char          *keys[2];        /* failure counters */
    ngx_str_t            token;          /* the path's */
    char                 session[NGX_MAM_SHARE_TOKEN_LEN + 1];
    char                 session_hash[65];
    int                  verified;
} ngx_mam_share_session_t;


static const char  ngx_mam_share_nomem[] = "out of memory";


/* --- field checks ---------------------------------------------------------- */

/* asset_ids: an array of 1..100 UUIDs, as a PostgreSQL array literal */
static const char *
ngx_mam_share_asset_ids(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char      *p;
    size_t       i, n;
    json_t      *v, *id;
    const char  *s;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > NGX_MAM_SHARE_ASSETS_MAX) {
        return "asset_ids: must be an array of 1..100 asset ids";
    }

    p = ngx_pnalloc(r->pool, n * (MAM_UUID_LEN + 1) + 2);
    if (p == NULL) {
        return ngx_mam_share_nomem;
    }

    *out = (const char *) p;
    *p++ = '{';

    json_array_foreach(v, i, id) {
        s = json_string_value(id);
        if (s == NULL || !mam_uuid_valid(s, json_string_length(id))) {
            *out = NULL;
            return "asset_ids: must be an array of 1..100 asset ids";
        }

        p = ngx_cpymem(p, s, MAM_UUID_LEN);
        *p++ = (i + 1 < n) ? ',' : '}';
    }

    *p = '\0';

    return NULL;
}


/* version: "latest" (NULL) or a version's id */
static const char *
ngx_mam_share_version(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *s;

    s = json_string_value(json_object_get(ctx->body, f->name));

    if (s == NULL && json_object_get(ctx->body, f->name) == NULL) {
        return NULL;
    }

    if (s != NULL && ngx_strcmp(s, "latest") == 0) {
        return NULL;
    }

    return ngx_mam_field_uuid(r, ctx, f, out) ? "version: must be \"latest\" "
                                                "or a version's id"
                                              : NULL;
}


/* expires_at: a time (RFC 3339, or a date: its midnight UTC); null is
 * "never" (PATCH: "", absent: no change) */
static const char *
ngx_mam_share_expires(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t     *v;
    ngx_str_t   s;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL) {
        return NULL;
    }

    if (json_is_null(v)) {
        *out = "";
        return NULL;
    }

    if (!json_is_string(v) || json_string_length(v) > 40) {
        return "expires_at: must be a time (RFC 3339) or null";
    }

    s.len = json_string_length(v);
    s.data = ngx_pnalloc(r->pool, s.len);
    if (s.data == NULL) {
        return ngx_mam_share_nomem;
    }
    ngx_memcpy(s.data, json_string_value(v), s.len);

    *out = ngx_mam_time_arg(r, &s);

    return *out ? NULL : "expires_at: must be a time (RFC 3339) or null";
}


/* a switch of PATCH: true or false; absent or null is no change */
static const char *
ngx_mam_share_switch(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    json_t  *v;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    return ngx_mam_field_boolean(r, ctx, f, out);
}


/* limit: 1..100, 50 by default */
static const char *
ngx_mam_share_limit(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_uint_t  limit;

    (void) ctx;
    (void) f;

    if (ngx_mam_list_limit_or(r, 50, &limit) != NGX_OK) {
        return "limit: must be 1..100";
    }

    *out = ngx_mam_message(r->pool, "%ui", limit);

    return *out ? NULL : ngx_mam_share_nomem;
}


/* --- member routes ---------------------------------------------------------- */

/* what the members' share functions answer besides "ok" */
static const ngx_mam_outcome_t  ngx_mam_share_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such link, asset or "
      "folder", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only an editor or manager of the project or an admin may share",
      NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST, "invalid link", NULL },
    { MAM_OUTCOME_BAD_VERSION, NGX_HTTP_BAD_REQUEST,
      "version: not a version of this asset", NULL },
    { MAM_OUTCOME_GONE, NGX_HTTP_GONE, "the link was revoked", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* 201 {share} with its url, /r/{token}: the one time the token is told */
static void
ngx_mam_share_created(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                 *v, *share, *body;
    ngx_mam_ctx_t          *ctx;
    ngx_mam_share_write_t  *sw;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_share_outcomes);
    if (v == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    sw = ctx->data;
    share = json_object_get(v, "share");

    if (!json_is_object(share)
        || json_object_set_new(share, "url",
                               json_string(ngx_mam_message(r->pool, "/r/%s",
                                                           sw->token)))
           != 0)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    body = json_pack("{s:O}", "share", share);
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_CREATED, body));
}


/* POST /api/shares {asset_ids | folder_id, version, expires_at,
 * passphrase?, allow_comments, allow_download, allow_approval,
 * show_all_versions} → 201 {share} */
static const ngx_mam_field_t  ngx_mam_share_create_fields[] = {
    { "asset_ids", ngx_mam_share_asset_ids, 0, 0, 0 },
    { "folder_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "version", ngx_mam_share_version, 1, MAM_UUID_LEN, 0 },
    { "expires_at", ngx_mam_share_expires, 0, 0, 0 },
    { "allow_comments", ngx_mam_field_boolean, 0, 0, 0 },
    { "allow_download", ngx_mam_field_boolean, 0, 0, 0 },
    { "allow_approval", ngx_mam_field_boolean, 0, 0, 0 },
    { "show_all_versions", ngx_mam_field_boolean, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_share_create = {
    "SELECT mam_share_create($1, $2, $3, $4, $5, nullif($6, '')::timestamptz,"
    " $7, $8, $9, $10, $11, $12, $13)", 13,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3),
      NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_FIELD(4), NGX_MAM_ARG_FIELD(5),
      NGX_MAM_ARG_FIELD(6), NGX_MAM_ARG_FIELD(7), NGX_MAM_ARG_EXTRA(1),
      NGX_MAM_ARG_IP },
    ngx_mam_share_create_fields, 0, NULL,
    ngx_mam_share_created, ngx_mam_share_outcomes,
    NGX_HTTP_CREATED, "share"
};

/* GET /api/shares?project=&limit=&cursor= → 200 {items, next_cursor} */
static const ngx_mam_field_t  ngx_mam_share_list_fields[] = {
    { "project", ngx_mam_field_query_uuid, 0, 0, 0 },
    { "limit", ngx_mam_share_limit, 0, 0, 0 },
    { "cursor", ngx_mam_field_query_uuid, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static void
ngx_mam_share_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                     *v;
    const ngx_mam_statement_t  *st = data;

    v = ngx_mam_outcome_ok(r, res, st->outcomes);
    if (v == NULL) {
        return;
    }

    (void) json_object_del(v, "outcome");

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, v));
}

const ngx_mam_statement_t  ngx_mam_share_list = {
    "SELECT mam_share_list($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2) },
    ngx_mam_share_list_fields, 0, NULL,
    ngx_mam_share_listed, ngx_mam_share_outcomes, NGX_HTTP_OK, NULL
};

/* GET /api/shares/:id → 200 {share} with its guests */
const ngx_mam_statement_t  ngx_mam_share_get = {
    "SELECT mam_share_get($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_share_outcomes, NGX_HTTP_OK, "share"
};

/* PATCH /api/shares/:id {expires_at?, passphrase?, allow_*?,
 * show_all_versions?} → 200 {share} */
static const ngx_mam_field_t  ngx_mam_share_update_fields[] = {
    { "expires_at", ngx_mam_share_expires, 0, 0, 0 },
    { "allow_comments", ngx_mam_share_switch, 0, 0, 0 },
    { "allow_download", ngx_mam_share_switch, 0, 0, 0 },
    { "allow_approval", ngx_mam_share_switch, 0, 0, 0 },
    { "show_all_versions", ngx_mam_share_switch, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_share_update = {
    "SELECT mam_share_update($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_FIELD(1),
      NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_FIELD(4),
      NGX_MAM_ARG_IP },
    ngx_mam_share_update_fields, 0, NULL,
    NULL, ngx_mam_share_outcomes, NGX_HTTP_OK, "share"
};

/* DELETE /api/shares/:id → 204: revoked, the link answers 410 at once */
/* the edges know the link's assets' playback URLs are revoked: 204 */
static void
ngx_mam_share_revoked(ngx_http_request_t *r, redisReply *reply, void *data)
{
    (void) reply;
    (void) data;

    ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
}


/* the link is revoked, and the play epochs of its assets went up (README,
 * Edge: revocation): published before the answer, so that a guest's URLs
 * stop within mam_edge_epoch_ttl */
static void
ngx_mam_share_revoke_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *v;

    (void) data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_share_outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_edge_revoke(r, json_object_get(v, "epochs"),
                        ngx_mam_share_revoked, NULL);
}


const ngx_mam_statement_t  ngx_mam_share_revoke = {
    "SELECT mam_share_revoke($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_share_revoke_done, NULL, NGX_HTTP_NO_CONTENT, NULL
};


/* passphrase: absent, a string of 1..1024 bytes, or (remove: PATCH) null;
 * NULL, or the message of a 400 */
static const char *
ngx_mam_share_passphrase(ngx_mam_ctx_t *ctx, ngx_str_t *pw,
    ngx_uint_t *remove, ngx_uint_t may_remove)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, "passphrase") : NULL;

    if (v == NULL || (json_is_null(v) && !may_remove)) {
        return NULL;
    }

    if (json_is_null(v)) {
        *remove = 1;
        return NULL;
    }

    if (!json_is_string(v) || json_string_length(v) < 1
        || json_string_length(v) > NGX_MAM_PASSPHRASE_MAX_BYTES)
    {
        return "passphrase: must be a string of 1..1024 bytes";
    }

    pw->data = (u_char *) json_string_value(v);
    pw->len = json_string_length(v);

    return NULL;
}


static void
ngx_mam_share_hash(void *data)
{
    ngx_mam_share_write_t  *sw = data;

    sw->rc = mam_password_hash((const char *) sw->passphrase.data,
                               sw->passphrase.len, sw->encoded);
}


/* the passphrase hashed (or none): the route's statement now */
static void
ngx_mam_share_hashed(ngx_http_request_t *r, void *data)
{
    ngx_int_t               rc;
    ngx_mam_ctx_t          *ctx;
    ngx_mam_share_write_t  *sw = data;

    if (sw->rc != 0) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);

    ctx->extra[0] = sw->passphrase.len ? sw->encoded
                    : sw->remove ? "" : NULL;
    ctx->extra[1] = sw->token_hash;

    rc = ngx_mam_statement_handler(r, ctx);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * POST /api/shares and PATCH /api/shares/:id: the passphrase, if one is
 * given, is hashed on the hash thread pool before the statement runs
 * (extra[0]: its hash, "" to remove it, NULL for none or no change); a
 * new link's token is made here (extra[1]: its hash).
 */
ngx_int_t
ngx_mam_share_write_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t               rc;
    const char             *message;
    ngx_mam_share_write_t  *sw;

    sw = ngx_pcalloc(r->pool, sizeof(ngx_mam_share_write_t));
    if (sw == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ctx->data = sw;

    message = ngx_mam_share_passphrase(ctx, &sw->passphrase, &sw->remove,
                                       r->method == NGX_HTTP_PATCH);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (r->method == NGX_HTTP_POST) {
        if (mam_random_token(sw->token) != 0) {
            return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }
        mam_sha256_hex(sw->token, NGX_MAM_SHARE_TOKEN_LEN, sw->token_hash);
    }

    if (sw->passphrase.len == 0) {
        ngx_mam_share_hashed(r, sw);
        return NGX_DONE;
    }

    rc = ngx_mam_thread_run(r, NGX_MAM_THREAD_HASH, ngx_mam_share_hash,
                            ngx_mam_share_hashed, sw);

    return (rc == NGX_OK) ? NGX_DONE : ngx_mam_thread_refused(r, rc);
}


/* --- guests ----------------------------------------------------------------- */

/* the path's token, when it is one a link could have: NGX_OK */
static ngx_int_t
ngx_mam_share_token(ngx_mam_ctx_t *ctx, ngx_str_t *token)
{
    size_t      i;
    ngx_str_t  *v;

    v = ngx_mam_param(ctx, "token");
    if (v == NULL || v->len != NGX_MAM_SHARE_TOKEN_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < v->len; i++) {
        if (!ngx_mam_is_token_char(v->data[i])) {
            return NGX_ERROR;
        }
    }

    *token = *v;

    return NGX_OK;
}


/* the SHA-256 of a 43-character token, in the request's pool */
static char *
ngx_mam_share_digest(ngx_http_request_t *r, ngx_str_t *token)
{
    char  *digest;

    digest = ngx_pnalloc(r->pool, 65);
    if (digest != NULL) {
        mam_sha256_hex(token->data, token->len, digest);
    }

    return digest;
}


/* the mam_guest cookie's session, hashed; NULL without a well-formed one
 * (the SQL functions then answer no_session) */
static const char *
ngx_mam_share_session_hash(ngx_http_request_t *r)
{
    size_t     i;
    ngx_str_t  value, name = ngx_string("mam_guest");

    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name,
                                          &value)
        == NGX_DECLINED
        || value.len != NGX_MAM_SHARE_TOKEN_LEN)
    {
        return NULL;
    }

    for (i = 0; i < value.len; i++) {
        if (!ngx_mam_is_token_char(value.data[i])) {
            return NULL;
        }
    }

    return ngx_mam_share_digest(r, &value);
}


/*
 * A guest's route: extra[0] the link's token hash (a path that cannot be
 * a token is no link: 404), extra[1] the guest's session hash or NULL;
 * then the route's statement.
 */
ngx_int_t
ngx_mam_share_guest_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_str_t  token;

    if (ngx_mam_share_token(ctx, &token) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_NOT_FOUND, "no such link");
    }

    ctx->extra[0] = ngx_mam_share_digest(r, &token);
    ctx->extra[1] = ngx_mam_share_session_hash(r);

    if (ctx->extra[0] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return ngx_mam_statement_handler(r, ctx);
}


/* what the guests' functions answer besides "ok", before what the
 * function they lead to does (sign-preview's, a download's) */
static const ngx_mam_outcome_t  ngx_mam_share_guest_outcomes[] = {
    NGX_MAM_SHARE_GUEST_OUTCOMES,
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such link", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "this link does not allow that", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* GET /api/r/{token} → 200 {passphrase, expires_at, guest, ...}: the
 * link as its guest sees it (a view recorded), or with guest null what
 * the page asks before a session */
const ngx_mam_statement_t  ngx_mam_share_open = {
    "SELECT mam_share_open($1, $2, $3)", 3,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_IP },
    NULL, NGX_MAM_STATEMENT_BARE, NULL,
    NULL, ngx_mam_share_guest_outcomes, NGX_HTTP_OK, "view"
};

/* GET /api/r/{token}/assets/:id/comments → 200 {items} */
const ngx_mam_statement_t  ngx_mam_share_comments = {
    "SELECT mam_share_comments($1, $2, $3)", 3,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_ID },
    NULL, 0, NULL,
    NULL, ngx_mam_share_guest_outcomes, NGX_HTTP_OK, "items"
};


/* a guest's refusal (gone, no session, ...) answered here; what is left
 * is the answer of the function the guest's led to, for its own rows
 * function: NULL when answered */
static json_t *
ngx_mam_share_guest_refused(ngx_http_request_t *r, PGresult *res)
{
    json_t         *v;
    mam_outcome_t   outcome;

    v = ngx_mam_pg_request_json(r, res);
    if (v == NULL) {
        return NULL;
    }

    outcome = ngx_mam_outcome(v);

    if (outcome == MAM_OUTCOME_GONE || outcome == MAM_OUTCOME_NO_SESSION
        || (outcome == MAM_OUTCOME_FORBIDDEN
            && json_object_get(v, "message") == NULL))
    {
        ngx_mam_refuse_outcome(r, v, ngx_mam_share_guest_outcomes);
        return NULL;
    }

    return v;
}


static void
ngx_mam_share_signed(ngx_http_request_t *r, PGresult *res, void *data)
{
    static ngx_mam_sign_t  sg = { NGX_MAM_GUEST_TTL };

    (void) data;

    if (ngx_mam_share_guest_refused(r, res) != NULL) {
        ngx_mam_sign_found(r, res, &sg);
    }
}


static void
ngx_mam_share_download_found(ngx_http_request_t *r, PGresult *res,
    void *data)
{
    if (ngx_mam_share_guest_refused(r, res) != NULL) {
        ngx_mam_download_found(r, res, data);
    }
}


/* POST /api/r/{token}/sign-preview {asset_id, version_id?}: the same
 * answer as a member's, for a version the link shows */
static const ngx_mam_field_t  ngx_mam_share_sign_fields[] = {
    { "asset_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 1 },
    { "version_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_share_sign = {
    "SELECT mam_share_playable($1, $2, $3, $4, 900, $5)", 5,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_share_sign_fields, 0, NULL,
    ngx_mam_share_signed, NULL, NGX_HTTP_OK, NULL
};

/* POST /api/r/{token}/versions/:id/download {rendition}: where the link
 * allows downloads, as a member's */
static const ngx_mam_field_t  ngx_mam_share_download_fields[] = {
    { "rendition", ngx_mam_field_text, 1, 64, 1 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_share_download = {
    "SELECT mam_share_download($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_EXTRA(0), NGX_MAM_ARG_EXTRA(1), NGX_MAM_ARG_ID,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_IP },
    ngx_mam_share_download_fields, 0, NULL,
    ngx_mam_share_download_found, NULL, NGX_HTTP_OK, NULL
};


/* --- POST /api/r/{token}/session -------------------------------------------- */

static const ngx_mam_outcome_t  ngx_mam_share_session_outcomes[] = {
    NGX_MAM_SHARE_GUEST_OUTCOMES,
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such link", NULL },
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT, "this link is full", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* mam_guest={session}; Path=/api/r/{token}: sent back on this link's API
 * requests only; Secure over HTTPS */
static ngx_int_t
ngx_mam_share_cookie(ngx_http_request_t *r, ngx_mam_share_session_t *ss,
    json_int_t max_age)
{
    u_char     *p;
    ngx_str_t   value;
    ngx_uint_t  secure;

    secure = 0;
#if (NGX_HTTP_SSL)
    secure = (r->connection->ssl != NULL);
#endif

    p = ngx_pnalloc(r->pool, 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "mam_guest=%s; Max-Age=%L; Path=/api/r/%V; "
                               "HttpOnly; SameSite=Strict%s",
                            ss->session, (int64_t) max_age, &ss->token,
                            secure ? "; Secure" : "")
                - p;

    return ngx_mam_add_header(r, "Set-Cookie", &value);
}


static void
ngx_mam_share_session_made(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                   *v, *body;
    ngx_mam_share_session_t  *ss = data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_share_session_outcomes);
    if (v == NULL) {
        return;
    }

    body = json_pack("{s:O}", "guest", json_object_get(v, "guest"));

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK
        || ngx_mam_share_cookie(r, ss,
                                json_integer_value(json_object_get(v,
                                                               "max_age")))
           != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_CREATED,
                                                   body));
}


/* the passphrase, if any, was right: a guest with a new session */
static void
ngx_mam_share_session_create(ngx_http_request_t *r,
    ngx_mam_share_session_t *ss)
{
    const char  **values;

    values = ngx_palloc(r->pool, 5 * sizeof(char *));
    if (values == NULL || mam_random_token(ss->session) != 0) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    mam_sha256_hex(ss->session, NGX_MAM_SHARE_TOKEN_LEN, ss->session_hash);

    values[0] = ngx_mam_share_digest(r, &ss->token);
    values[1] = ss->session_hash;
    values[2] = ss->name;
    values[3] = ss->email;
    values[4] = ngx_mam_ip(r);

    if (values[0] == NULL
        || ngx_mam_pg_query(r, "SELECT mam_share_session($1, $2, $3, $4, $5)",
                            5, values, ngx_mam_share_session_made, ss)
           != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


static void
ngx_mam_share_verify(void *data)
{
    ngx_mam_share_session_t  *ss = data;

    ss->verified = mam_password_verify(ss->hash,
                                       (const char *) ss->passphrase.data,
                                       ss->passphrase.len);
}


static void
ngx_mam_share_verified(ngx_http_request_t *r, void *data)
{
    ngx_mam_share_session_t  *ss = data;

    if (!ss->verified) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mam: wrong passphrase for a review link");
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "wrong passphrase");
        return;
    }

    /* the client's failures on this link are void; the link's own count
     * decays with its window */
    ngx_mam_attempts_forgive(r, ss->keys[1]);

    ngx_mam_share_session_create(r, ss);
}


static void
ngx_mam_share_checked(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_int_t                 rc;
    ngx_mam_share_session_t  *ss = data;

    if (ngx_mam_attempts_refused(r, reply, "failed-passphrase",
                                 "too many wrong passphrases; try again later")
        != NGX_OK)
    {
        return;
    }

    rc = ngx_mam_thread_run(r, NGX_MAM_THREAD_HASH, ngx_mam_share_verify,
                            ngx_mam_share_verified, ss);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_mam_thread_refused(r, rc));
    }
}


/* the link's passphrase hash: none → the session at once; else the
 * attempt is counted, then verified */
static void
ngx_mam_share_found(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                   *v;
    const char               *hash, *limits[2];
    ngx_mam_share_session_t  *ss = data;

    v = ngx_mam_outcome_ok(r, res, ngx_mam_share_session_outcomes);
    if (v == NULL) {
        return;
    }

    hash = json_string_value(json_object_get(v, "passphrase_hash"));
    if (hash == NULL) {
        ngx_mam_share_session_create(r, ss);
        return;
    }

    if (ss->passphrase.len == 0) {
        ngx_mam_fail(r, NGX_HTTP_UNAUTHORIZED, "passphrase: required");
        return;
    }

    ss->hash = (char *) ngx_mam_message(r->pool, "%s", hash);

    /* mam:rl:share:{token hash} and mam:rl:share:{token hash}:{client} */
    ss->keys[0] = ngx_mam_message(r->pool, "mam:rl:share:%s",
                                  ngx_mam_share_digest(r, &ss->token));
    ss->keys[1] = ss->keys[0] ? ngx_mam_message(r->pool, "%s:%V",
                                                ss->keys[0],
                                                ngx_mam_client_ip(r))
                              : NULL;

    limits[0] = NGX_MAM_PASSPHRASE_FAILURES_LINK;
    limits[1] = NGX_MAM_PASSPHRASE_FAILURES_CLIENT;

    if (ss->hash == NULL || ss->keys[0] == NULL || ss->keys[1] == NULL
        || ngx_mam_attempts_check(r, ss->keys, limits, 2,
                                  NGX_MAM_PASSPHRASE_WINDOW,
                                  ngx_mam_share_checked, ss)
           != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
}


/* name: 1..100 characters, not blank; email: optional, 3..254 bytes with
 * an "@" (a guest's word, shown to the link's members, never used to
 * send anything) */
static const char *
ngx_mam_share_guest_fields(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_mam_share_session_t *ss)
{
    ngx_uint_t   none;
    const char  *message;

    static const ngx_mam_field_t  fields[] = {
        { "name", ngx_mam_field_name, 1, NGX_MAM_GUEST_NAME_MAX, 1 },
        { "email", ngx_mam_field_text, 3, NGX_MAM_GUEST_EMAIL_MAX, 0 },
    };

    message = fields[0].check(r, ctx, &fields[0], &ss->name);
    if (message != NULL) {
        return message;
    }

    message = fields[1].check(r, ctx, &fields[1], &ss->email);
    if (message != NULL) {
        return message;
    }

    if (ss->email != NULL && ngx_strchr(ss->email, '@') == NULL) {
        return "email: must be an e-mail address";
    }

    return ngx_mam_share_passphrase(ctx, &ss->passphrase, &none, 0);
}


/* POST /api/r/{token}/session {passphrase?, name, email?} → 201 {guest}
 * with the cookie */
ngx_int_t
ngx_mam_share_session_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    const char               *message, **values;
    ngx_mam_share_session_t  *ss;

    ss = ngx_pcalloc(r->pool, sizeof(ngx_mam_share_session_t));
    values = ngx_palloc(r->pool, sizeof(char *));
    if (ss == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_mam_share_token(ctx, &ss->token) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_NOT_FOUND, "no such link");
    }

    message = ngx_mam_share_guest_fields(r, ctx, ss);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    values[0] = ngx_mam_share_digest(r, &ss->token);

    if (values[0] == NULL
        || ngx_mam_pg_query(r, "SELECT mam_share_passphrase($1)", 1, values,
                            ngx_mam_share_found, ss)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
