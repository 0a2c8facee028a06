/*
 * Admin: GET /api/users and PATCH /api/users/:id.  A change of roles or
 * status bumps the user's authz_version in PostgreSQL (mam_user_update,
 * schema/functions/accounts.sql) and is written to the authorization cache
 * at once, so the user's outstanding access tokens stop working on every
 * worker with the next request.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_redis.h"

#include "mam_util.h"


/* what mam_user_update() refuses with (demoting or disabling the last
 * active admin is its error MAM01 instead, which rolls the change back) */
static const ngx_mam_outcome_t  ngx_mam_user_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such user", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* --- GET /api/users ------------------------------------------------------- */

static void
ngx_mam_users_list_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t  *items, *body;

    (void) data;

    if (!ngx_mam_pg_ok(res) || PQntuples(res) != 1) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    items = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0,
                       NULL);
    body = items ? json_pack("{s:o}", "items", items) : NULL;

    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, body));
}


/* GET /api/users: every user, oldest first */
const ngx_mam_statement_t  ngx_mam_users_list = {
    "SELECT coalesce(jsonb_agg(mam_user_json(u) ORDER BY u.created_at, u.id),"
    " '[]') FROM users u", 0, { 0 },
    NULL, 0, NULL,
    ngx_mam_users_list_done, NULL, NGX_HTTP_OK, NULL
};


/* --- PATCH /api/users/:id ------------------------------------------------- */

static void
ngx_mam_users_update_sent(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    (void) reply;

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, data));
}


/* the change is made: written to the authorization cache, then answered */
static void
ngx_mam_users_update_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t         *v, *body;
    const char     *state, *status, *id;
    ngx_mam_ctx_t  *ctx;

    (void) data;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && ngx_strcmp(state, "MAM01") == 0) {
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the last active admin cannot be demoted or disabled");
        return;
    }

    v = ngx_mam_outcome_ok(r, res, ngx_mam_user_outcomes);
    if (v == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    id = ngx_mam_param_uuid(r, ctx, "id");

    body = json_pack("{s:O}", "user", json_object_get(v, "user"));
    if (id == NULL || body == NULL
        || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK)
    {
        json_decref(body);
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    /* the answer waits for the cache: a client that acts on it must find
     * the old tokens refused on every worker */
    status = json_string_value(json_object_get(v, "status"));

    ngx_mam_authz_cache_set(r, id,
                            (long) json_integer_value(json_object_get(v, "av")),
                            status ? status : "", ngx_mam_users_update_sent,
                            body);
}


/* status: active, pending or disabled */
static const char *
ngx_mam_users_status(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message;

    message = ngx_mam_field_text(r, ctx, f, out);
    if (message != NULL || *out == NULL) {
        return message;
    }

    if (ngx_strcmp(*out, "active") != 0 && ngx_strcmp(*out, "pending") != 0
        && ngx_strcmp(*out, "disabled") != 0)
    {
        return "status: must be active, pending or disabled";
    }

    return NULL;
}


/* roles: [...] as a PostgreSQL array literal of known role names */
static const char *
ngx_mam_users_roles(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char      *p, *lit;
    size_t       i;
    json_t      *roles, *v;
    unsigned     bit, seen;
    const char  *name, *message;

    roles = ctx->body ? json_object_get(ctx->body, f->name) : NULL;
    if (roles == NULL || json_is_null(roles)) {
        return NULL;
    }

    message = "roles: must be a non-empty array of viewer, editor, admin";

    if (!json_is_array(roles) || json_array_size(roles) == 0
        || json_array_size(roles) > 3)
    {
        return message;
    }

    lit = ngx_pnalloc(r->pool, sizeof("{viewer,editor,admin}"));
    if (lit == NULL) {
        return "out of memory";
    }

    p = lit;
    *p++ = '{';
    seen = 0;

    json_array_foreach(roles, i, v) {
        bit = json_is_string(v) ? mam_role_bit(json_string_value(v),
                                                json_string_length(v))
                                : 0;
        if (bit == 0 || (seen & bit)) {
            return message;
        }
        seen |= bit;

        name = mam_role_name(bit);
        if (p != lit + 1) {
            *p++ = ',';
        }
        p = ngx_cpymem(p, name, ngx_strlen(name));
    }

    *p++ = '}';
    *p = '\0';

    *out = (const char *) lit;

    return NULL;
}


static const ngx_mam_field_t  ngx_mam_user_update_fields[] = {
    { "status", ngx_mam_users_status, 1, 16, 0 },
    { "roles", ngx_mam_users_roles, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

/* PATCH /api/users/:id: roles and/or status */
const ngx_mam_statement_t  ngx_mam_users_update = {
    "SELECT mam_user_update($1, $2, $3, $4, $5)", 5,
    { NGX_MAM_ARG_USER, NGX_MAM_ARG_ID, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_IP },
    ngx_mam_user_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "status or roles: required",
    ngx_mam_users_update_done, NULL, NGX_HTTP_OK, NULL
};
