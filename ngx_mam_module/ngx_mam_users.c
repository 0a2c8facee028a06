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


typedef struct {
    char          id[MAM_UUID_LEN + 1];
} ngx_mam_user_update_t;


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


ngx_int_t
ngx_mam_users_list_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    (void) ctx;

    if (ngx_mam_pg_query(r, "SELECT coalesce(jsonb_agg(mam_user_json(u) "
                            "ORDER BY u.created_at, u.id), '[]') "
                            "FROM users u",
                         0, NULL, ngx_mam_users_list_done, NULL)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


static void
ngx_mam_users_update_sent(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    (void) reply;

    ngx_http_finalize_request(r, ngx_mam_send_json(r, NGX_HTTP_OK, data));
}


static void
ngx_mam_users_update_done(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                 *v, *body;
    const char             *state, *outcome, *status;
    ngx_mam_user_update_t  *uu = data;

    if (res == NULL) {
        ngx_mam_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL);
        return;
    }

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && ngx_strcmp(state, "MAM01") == 0) {
        ngx_mam_fail(r, NGX_HTTP_CONFLICT,
                     "the last active admin cannot be demoted or disabled");
        return;
    }

    v = (ngx_mam_pg_ok(res) && PQntuples(res) == 1)
        ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL)
        : NULL;

    if (v == NULL || ngx_mam_json_cleanup_add(r->pool, v) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    outcome = json_string_value(json_object_get(v, "outcome"));
    if (outcome == NULL || ngx_strcmp(outcome, "ok") != 0) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such user");
        return;
    }

    body = json_pack("{s:O}", "user", json_object_get(v, "user"));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    /* the answer waits for the cache: a client that acts on it must find
     * the old tokens refused on every worker */
    status = json_string_value(json_object_get(v, "status"));

    ngx_mam_authz_cache_set(r, uu->id,
                            (long) json_integer_value(json_object_get(v, "av")),
                            status ? status : "", ngx_mam_users_update_sent,
                            body);
}


/* {"roles": [...]} as a PostgreSQL array literal of known role names */
static const char *
ngx_mam_users_roles(ngx_http_request_t *r, json_t *roles, const char **msg)
{
    u_char      *p, *lit;
    size_t       i;
    json_t      *v;
    unsigned     bit, seen;
    const char  *name;

    *msg = "roles: must be a non-empty array of viewer, editor, admin";

    if (!json_is_array(roles) || json_array_size(roles) == 0
        || json_array_size(roles) > 3)
    {
        return NULL;
    }

    lit = ngx_pnalloc(r->pool, sizeof("{viewer,editor,admin}"));
    if (lit == NULL) {
        *msg = NULL;
        return NULL;
    }

    p = lit;
    *p++ = '{';
    seen = 0;

    json_array_foreach(roles, i, v) {
        bit = json_is_string(v) ? mam_role_bit(json_string_value(v),
                                                json_string_length(v))
                                : 0;
        if (bit == 0 || (seen & bit)) {
            return NULL;
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

    return (const char *) lit;
}


ngx_int_t
ngx_mam_users_update_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    json_t                 *roles;
    ngx_int_t               rc;
    char                   *id;
    ngx_str_t               status;
    const char            **values, *message;
    ngx_mam_user_update_t  *uu;

    id = ngx_mam_param_uuid(r, ctx, "id");
    if (id == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    uu = ngx_pcalloc(r->pool, sizeof(ngx_mam_user_update_t));
    values = ngx_pcalloc(r->pool, 5 * sizeof(char *));
    if (uu == NULL || values == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_memcpy(uu->id, id, MAM_UUID_LEN);

    rc = ngx_mam_body_string(r, ctx, "status", 1, 16, 0, &status, &message);
    if (rc == NGX_ERROR) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (rc == NGX_OK) {
        if (!((status.len == 6 && ngx_strncmp(status.data, "active", 6) == 0)
              || (status.len == 7
                  && ngx_strncmp(status.data, "pending", 7) == 0)
              || (status.len == 8
                  && ngx_strncmp(status.data, "disabled", 8) == 0)))
        {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "status: must be active, pending or "
                                      "disabled");
        }
        values[2] = ngx_mam_cstr(r->pool, &status);
    }

    roles = ctx->body ? json_object_get(ctx->body, "roles") : NULL;
    if (roles != NULL && !json_is_null(roles)) {
        values[3] = ngx_mam_users_roles(r, roles, &message);
        if (values[3] == NULL) {
            return ngx_mam_send_error(r, message ? NGX_HTTP_BAD_REQUEST
                                         : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      message);
        }
    }

    if (values[2] == NULL && values[3] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "status or roles: required");
    }

    values[0] = ctx->user.sub;
    values[1] = uu->id;
    values[4] = ngx_mam_cstr(r->pool, ngx_mam_client_ip(r));

    if (ngx_mam_pg_query(r, "SELECT mam_user_update($1, $2, $3, $4, $5)", 5,
                         values, ngx_mam_users_update_done, uu)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
