/*
 * GET /api/audit: the audit log, newest first, a keyset page at a time.
 * An admin reads every row; a user who manages a project reads the rows of
 * the projects they manage (no instance-level row, no client address);
 * anyone else is answered 403.  Filters: actor, action, asset, project and
 * a time range [from, to).  The statement is the one of the index the
 * most selective filter reads (ngx_mam_sql.h, NGX_MAM_SQL_AUDIT_*); the
 * cursor is the asset list's (ngx_mam_assets.c) with the scope "audit".
 */

#include "ngx_mam_pg.h"


#define NGX_MAM_AUDIT_DEFAULT     50
#define NGX_MAM_AUDIT_CURSOR_MAX  1024
#define NGX_MAM_AUDIT_ACTION_MAX  64
#define NGX_MAM_AUDIT_TIME_MAX    40

/* the parameters of the statements, in their order */
#define NGX_MAM_AUDIT_LIMIT     0
#define NGX_MAM_AUDIT_FROM      1
#define NGX_MAM_AUDIT_TO        2
#define NGX_MAM_AUDIT_AFTER     3
#define NGX_MAM_AUDIT_AFTER_ID  4
#define NGX_MAM_AUDIT_ACTOR     5
#define NGX_MAM_AUDIT_ACTION    6
#define NGX_MAM_AUDIT_ASSET     7
#define NGX_MAM_AUDIT_PROJECT   8
#define NGX_MAM_AUDIT_USER      9
#define NGX_MAM_AUDIT_NARGS     10


typedef struct {
    ngx_uint_t    limit;
} ngx_mam_audit_page_t;


static ngx_str_t  ngx_mam_audit_scope = ngx_string("audit");


/* the statement of the page: the index of the most selective filter */
static const char *
ngx_mam_audit_statement(ngx_uint_t admin, const char **values)
{
    if (values[NGX_MAM_AUDIT_ASSET] != NULL) {
        return admin ? NGX_MAM_SQL_AUDIT_ASSET
                     : NGX_MAM_SQL_AUDIT_MANAGER_ASSET;
    }

    if (values[NGX_MAM_AUDIT_ACTOR] != NULL) {
        return admin ? NGX_MAM_SQL_AUDIT_ACTOR
                     : NGX_MAM_SQL_AUDIT_MANAGER_ACTOR;
    }

    /* a manager's other pages merge a page of each of their projects */
    if (!admin) {
        return NGX_MAM_SQL_AUDIT_MANAGER_PROJECTS;
    }

    if (values[NGX_MAM_AUDIT_PROJECT] != NULL) {
        return NGX_MAM_SQL_AUDIT_PROJECT;
    }

    if (values[NGX_MAM_AUDIT_ACTION] != NULL) {
        return NGX_MAM_SQL_AUDIT_ACTION;
    }

    return NGX_MAM_SQL_AUDIT_ALL;
}


static void
ngx_mam_audit_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                    n;
    ngx_mam_audit_page_t  *pg = data;

    if (!ngx_mam_pg_ok(res) || PQnfields(res) != NGX_MAM_SQL_AUDIT_NCOLS) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    /* column 0: 0 for a caller who manages no project */
    n = PQntuples(res);
    if (n > 0 && PQgetlength(res, 0, 0) == 1
        && PQgetvalue(res, 0, 0)[0] == '0')
    {
        ngx_mam_fail(r, NGX_HTTP_FORBIDDEN,
                     "only an admin or a project's manager may read the "
                     "audit log");
        return;
    }

    /* a manager's empty page: one row of NULLs */
    if (n == 1 && PQgetisnull(res, 0, 1)) {
        n = 0;
    }

    ngx_mam_list_send_timed(r, res, 1, n, pg->limit, &ngx_mam_audit_scope);
}


/* from, to: NULL and *out (absent: "-infinity", "infinity"), or the message */
static const char *
ngx_mam_audit_bound(ngx_http_request_t *r, const char *name, const char **out)
{
    ngx_int_t  rc;
    ngx_str_t  v;

    rc = ngx_mam_list_arg(r, name, NGX_MAM_AUDIT_TIME_MAX, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    if (rc == NGX_OK) {
        *out = ngx_mam_time_arg(r, &v);
    }

    if (rc != NGX_OK || *out == NULL) {
        return ngx_mam_message(r->pool,
                               "%s: must be an ISO-8601 time, YYYY-MM-DD or "
                               "YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z or "
                               "+HH:MM", name);
    }

    return NULL;
}


/* action: an action's name, [a-z0-9_] */
static const char *
ngx_mam_audit_action(ngx_http_request_t *r, const char **out)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   v;

    rc = ngx_mam_list_arg(r, "action", NGX_MAM_AUDIT_ACTION_MAX, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    if (rc != NGX_OK || v.len == 0) {
        return "action: must be an action's name (1..64 of a-z, 0-9, _)";
    }

    for (p = v.data; p < v.data + v.len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '_'))
        {
            return "action: must be an action's name (1..64 of a-z, 0-9, _)";
        }
    }

    *out = (char *) v.data;

    return NULL;
}


static const char *
ngx_mam_audit_cursor(ngx_http_request_t *r, const char **values)
{
    char       *id, *at;
    ngx_int_t   rc;
    ngx_str_t   v;

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_AUDIT_CURSOR_MAX, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    /* the audit log's rows are numbered: a UUID is another list's */
    if (rc != NGX_OK
        || ngx_mam_cursor_timed(r, &v, &ngx_mam_audit_scope, &id, &at)
           != NGX_OK)
    {
        return "cursor: not a cursor this server issued for the audit log";
    }

    values[NGX_MAM_AUDIT_AFTER] = at;
    values[NGX_MAM_AUDIT_AFTER_ID] = id;

    return NULL;
}


/* the UUID filters, as the statement routes read them from the query */
static const ngx_mam_field_t  ngx_mam_audit_uuids[] = {
    { "actor", ngx_mam_field_query_uuid, 0, 0, 0 },
    { "asset", ngx_mam_field_query_uuid, 0, 0, 0 },
    { "project", ngx_mam_field_query_uuid, 0, 0, 0 }
};


static const char *
ngx_mam_audit_args(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_mam_audit_page_t *pg, const char **values)
{
    const char  *message;

    if (ngx_mam_list_limit_or(r, NGX_MAM_AUDIT_DEFAULT, &pg->limit)
        != NGX_OK)
    {
        return "limit: must be 1..100";
    }

    values[NGX_MAM_AUDIT_LIMIT] = ngx_mam_message(r->pool, "%ui",
                                                  pg->limit + 1);
    values[NGX_MAM_AUDIT_FROM] = "-infinity";
    values[NGX_MAM_AUDIT_TO] = "infinity";
    values[NGX_MAM_AUDIT_AFTER] = "infinity";
    values[NGX_MAM_AUDIT_AFTER_ID] = "0";

    if ((message = ngx_mam_field_query_uuid(r, ctx, &ngx_mam_audit_uuids[0],
                                            &values[NGX_MAM_AUDIT_ACTOR]))
        || (message = ngx_mam_audit_action(r, &values[NGX_MAM_AUDIT_ACTION]))
        || (message = ngx_mam_field_query_uuid(r, ctx, &ngx_mam_audit_uuids[1],
                                               &values[NGX_MAM_AUDIT_ASSET]))
        || (message = ngx_mam_field_query_uuid(r, ctx, &ngx_mam_audit_uuids[2],
                                               &values[NGX_MAM_AUDIT_PROJECT]))
        || (message = ngx_mam_audit_bound(r, "from",
                                          &values[NGX_MAM_AUDIT_FROM]))
        || (message = ngx_mam_audit_bound(r, "to", &values[NGX_MAM_AUDIT_TO]))
        || (message = ngx_mam_audit_cursor(r, values)))
    {
        return message;
    }

    return NULL;
}


ngx_int_t
ngx_mam_audit_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t             admin, n;
    const char            *message, **values;
    ngx_mam_audit_page_t  *pg;

    values = ngx_pcalloc(r->pool, NGX_MAM_AUDIT_NARGS * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_audit_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    message = ngx_mam_audit_args(r, ctx, pg, values);
    if (message != NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    /* an admin reads every row; anyone else the rows of the projects they
     * manage, and the statement says 403 when they manage none */
    admin = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN);
    n = NGX_MAM_AUDIT_NARGS - 1;

    if (!admin) {
        values[NGX_MAM_AUDIT_USER] = ctx->user.sub;
        n = NGX_MAM_AUDIT_NARGS;
    }

    if (ngx_mam_pg_query(r, ngx_mam_audit_statement(admin, values), n,
                         values, ngx_mam_audit_listed, pg)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
