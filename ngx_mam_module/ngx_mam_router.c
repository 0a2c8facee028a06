/*
 * The API's routes and the two phases of a `mam_api` request, as nginx's
 * auth_request does it: in NGX_HTTP_ACCESS_PHASE the route (method + path
 * pattern with `:name` captures; JSON 404/405 with Allow; the JSON body
 * limit, 413) and the gate (ngx_mam_auth.c: token, limits, user, role),
 * before a byte of the body is read; then in the content phase the body,
 * parsed, and the route's handler.
 *
 * A row says everything the gate needs: who may call (access), the rate
 * window, flags (NGX_MAM_ROUTE_*).
 */

#include "ngx_mam_pg.h"

#include "mam_route.h"


static const ngx_mam_route_t  ngx_mam_routes[] = {
    { NGX_HTTP_GET, "/api/health", ngx_mam_health_handler, NGX_MAM_UNLIMITED,
      NGX_MAM_WINDOW_API, 0, NULL },

    { NGX_HTTP_POST, "/auth/register", ngx_mam_register_handler,
      NGX_MAM_PUBLIC, NGX_MAM_WINDOW_AUTH, 0, NULL },
    { NGX_HTTP_POST, "/auth/login", ngx_mam_login_handler, NGX_MAM_PUBLIC,
      NGX_MAM_WINDOW_AUTH, 0, NULL },
    { NGX_HTTP_POST, "/auth/refresh", ngx_mam_refresh_handler,
      NGX_MAM_PUBLIC, NGX_MAM_WINDOW_AUTH, 0, NULL },
    { NGX_HTTP_POST, "/auth/logout", ngx_mam_statement_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_AUTH, 0, &ngx_mam_logout },
    { NGX_HTTP_GET, "/auth/me", ngx_mam_me_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_AUTH, NGX_MAM_ROUTE_USER_ITEM, &ngx_mam_user_me },

    { NGX_HTTP_GET, "/api/users", ngx_mam_statement_handler, NGX_MAM_ADMIN,
      NGX_MAM_WINDOW_API, 0, &ngx_mam_users_list },
    { NGX_HTTP_POST, "/api/presign", ngx_mam_presign_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_GET, "/api/uploads/:id/parts", ngx_mam_multipart_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/uploads/:id/complete", ngx_mam_multipart_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_DELETE, "/api/uploads/:id", ngx_mam_multipart_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/assets", ngx_mam_assets_create_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_GET, "/api/assets", ngx_mam_assets_list_handler,
      NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_GET, "/api/assets/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_asset_get },
    { NGX_HTTP_PATCH, "/api/assets/:id", ngx_mam_statement_handler,
      NGX_MAM_EDITOR, NGX_MAM_WINDOW_API, 0, &ngx_mam_asset_update },
    { NGX_HTTP_DELETE, "/api/assets/:id", ngx_mam_statement_handler,
      NGX_MAM_EDITOR, NGX_MAM_WINDOW_API, 0, &ngx_mam_asset_delete },
    { NGX_HTTP_PATCH, "/api/assets", ngx_mam_statement_handler,
      NGX_MAM_EDITOR, NGX_MAM_WINDOW_API, 0, &ngx_mam_assets_bulk },
    { NGX_HTTP_POST, "/api/promote", ngx_mam_promote_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/sign-preview", ngx_mam_sign_preview_handler,
      NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/versions/:id/download", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_version_download },

    { NGX_HTTP_POST, "/api/preview", ngx_mam_preview_request_handler,
      NGX_MAM_EDITOR,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_GET, "/api/preview/status", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_preview_status },
    { NGX_HTTP_GET, "/api/preview/events", ngx_mam_events_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, NGX_MAM_ROUTE_TICKET, NULL },
    { NGX_HTTP_POST, "/api/preview/events/ticket",
      ngx_mam_events_ticket_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/preview/callback",
      ngx_mam_preview_callback_handler, NGX_MAM_PUBLIC,
      NGX_MAM_WINDOW_CALLBACK, 0, NULL },

    /* comments */
    { NGX_HTTP_GET, "/api/assets/:id/comments",
      ngx_mam_comments_list_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/assets/:id/comments", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_comment_create },
    { NGX_HTTP_DELETE, "/api/comments/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_comment_delete },
    /* the review workflow (issue 21): the project role is the SQL
     * functions' (comments.sql, approvals.sql) */
    { NGX_HTTP_PATCH, "/api/comments/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_comment_update },
    { NGX_HTTP_POST, "/api/comments/:id/resolve", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_comment_resolve },
    { NGX_HTTP_POST, "/api/comments/:id/reopen", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_comment_reopen },
    { NGX_HTTP_PUT, "/api/versions/:id/approval", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_version_approve },
    { NGX_HTTP_GET, "/api/versions/:id/approvals",
      ngx_mam_approvals_list_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },
    /* notifications and @mentions (issue 21, ngx_mam_notifications.c):
     * a user's own; the members' completion for members of the project */
    { NGX_HTTP_GET, "/api/notifications", ngx_mam_notifications_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, NULL },
    { NGX_HTTP_POST, "/api/notifications/read-all",
      ngx_mam_statement_handler, NGX_MAM_USER, NGX_MAM_WINDOW_API, 0,
      &ngx_mam_notifications_read_all },
    { NGX_HTTP_POST, "/api/notifications/:id/read",
      ngx_mam_statement_handler, NGX_MAM_USER, NGX_MAM_WINDOW_API, 0,
      &ngx_mam_notification_read },
    { NGX_HTTP_GET, "/api/projects/:id/members", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_member_find },

    { NGX_HTTP_PATCH, "/api/users/:id", ngx_mam_statement_handler,
      NGX_MAM_ADMIN, NGX_MAM_WINDOW_API, 0, &ngx_mam_users_update },

    /* projects: the gate asks only for a user (an editor to create one);
     * the project role is the SQL functions' */
    { NGX_HTTP_POST, "/api/projects", ngx_mam_statement_handler,
      NGX_MAM_EDITOR, NGX_MAM_WINDOW_API, 0, &ngx_mam_project_create },
    { NGX_HTTP_GET, "/api/projects", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_project_list },
    { NGX_HTTP_GET, "/api/projects/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_project_get },
    { NGX_HTTP_PATCH, "/api/projects/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_project_update },
    { NGX_HTTP_DELETE, "/api/projects/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_project_delete },
    { NGX_HTTP_POST, "/api/projects/:id/members", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_member_add },
    { NGX_HTTP_PATCH, "/api/projects/:id/members", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_member_update },
    { NGX_HTTP_DELETE, "/api/projects/:id/members", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_member_remove },
    /* folders: the project role is the SQL functions' too */
    { NGX_HTTP_GET, "/api/projects/:id/folders", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_folder_list },
    { NGX_HTTP_POST, "/api/projects/:id/folders", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_folder_create },
    { NGX_HTTP_PATCH, "/api/folders/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_folder_update },
    { NGX_HTTP_DELETE, "/api/folders/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_folder_delete },

    /* the audit log: admins, and managers of a project (the statement
     * knows who manages what) */
    { NGX_HTTP_GET, "/api/audit", ngx_mam_audit_handler, NGX_MAM_USER,
      NGX_MAM_WINDOW_API, 0, NULL },

    /* custom fields (ngx_mam_fields.c): members read, managers change */
    { NGX_HTTP_GET, "/api/projects/:id/fields", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_field_list },
    { NGX_HTTP_POST, "/api/projects/:id/fields", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_field_create },
    { NGX_HTTP_PATCH, "/api/fields/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_field_update },
    { NGX_HTTP_DELETE, "/api/fields/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_field_delete },

    /* webhooks (ngx_mam_webhooks.c): a project's managers only */
    { NGX_HTTP_GET, "/api/webhooks", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_list },
    { NGX_HTTP_POST, "/api/webhooks", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_create },
    { NGX_HTTP_GET, "/api/webhooks/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_get },
    { NGX_HTTP_PATCH, "/api/webhooks/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_update },
    { NGX_HTTP_DELETE, "/api/webhooks/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_delete },
    { NGX_HTTP_GET, "/api/webhooks/:id/deliveries",
      ngx_mam_webhooks_log_handler, NGX_MAM_USER, NGX_MAM_WINDOW_API, 0,
      NULL },
    { NGX_HTTP_POST, "/api/webhooks/:id/test", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_webhook_test },
    /* review links (issue 22, ngx_mam_shares.c): members who may share
     * (the project role is the SQL functions'), then the links' guests,
     * who have no account (the link's token and the guest's cookie);
     * a guest's writes count in the stricter auth window */
    { NGX_HTTP_POST, "/api/shares", ngx_mam_share_write_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_create },
    { NGX_HTTP_GET, "/api/shares", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_list },
    { NGX_HTTP_GET, "/api/shares/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_get },
    { NGX_HTTP_PATCH, "/api/shares/:id", ngx_mam_share_write_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_update },
    { NGX_HTTP_DELETE, "/api/shares/:id", ngx_mam_statement_handler,
      NGX_MAM_USER, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_revoke },
    { NGX_HTTP_GET, "/api/r/:token", ngx_mam_share_guest_handler,
      NGX_MAM_PUBLIC, NGX_MAM_WINDOW_API, 0, &ngx_mam_share_open },
    { NGX_HTTP_POST, "/api/r/:token/session", ngx_mam_share_session_handler,
      NGX_MAM_PUBLIC, NGX_MAM_WINDOW_AUTH, 0, NULL },
    { NGX_HTTP_GET, "/api/r/:token/assets/:id/comments",
      ngx_mam_share_guest_handler, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_API, 0,
      &ngx_mam_share_comments },
    { NGX_HTTP_POST, "/api/r/:token/assets/:id/comments",
      ngx_mam_share_guest_handler, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_AUTH, 0,
      &ngx_mam_share_comment },
    { NGX_HTTP_PUT, "/api/r/:token/versions/:id/approval",
      ngx_mam_share_guest_handler, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_AUTH, 0,
      &ngx_mam_share_approve },
    { NGX_HTTP_POST, "/api/r/:token/sign-preview",
      ngx_mam_share_guest_handler, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_API, 0,
      &ngx_mam_share_sign },
    { NGX_HTTP_POST, "/api/r/:token/versions/:id/download",
      ngx_mam_share_guest_handler, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_API, 0,
      &ngx_mam_share_download },

    { 0, NULL, NULL, NGX_MAM_PUBLIC, NGX_MAM_WINDOW_API, 0, NULL }
};


/* the route's place in the table (the metrics' label), or -1 */
ngx_int_t
ngx_mam_route_index(const ngx_mam_route_t *route)
{
    if (route == NULL || route < ngx_mam_routes
        || route >= ngx_mam_routes + sizeof(ngx_mam_routes)
                                     / sizeof(ngx_mam_route_t) - 1)
    {
        return -1;
    }

    return route - ngx_mam_routes;
}


static const char *ngx_mam_method_name(ngx_uint_t method);


/* "GET /api/assets/:id" for the route at i, or NULL past the table */
const char *
ngx_mam_route_name(ngx_uint_t i)
{
    static char  names[sizeof(ngx_mam_routes) / sizeof(ngx_mam_route_t)][96];

    if (i >= sizeof(ngx_mam_routes) / sizeof(ngx_mam_route_t) - 1) {
        return NULL;
    }

    if (names[i][0] == '\0') {
        ngx_snprintf((u_char *) names[i], sizeof(names[i]) - 1, "%s %s%Z",
                     ngx_mam_method_name(ngx_mam_routes[i].methods),
                     ngx_mam_routes[i].pattern);
    }

    return names[i];
}


static const struct {
    ngx_uint_t   method;
    const char  *name;
} ngx_mam_method_names[] = {
    { NGX_HTTP_GET, "GET" },
    { NGX_HTTP_HEAD, "HEAD" },
    { NGX_HTTP_POST, "POST" },
    { NGX_HTTP_PUT, "PUT" },
    { NGX_HTTP_PATCH, "PATCH" },
    { NGX_HTTP_DELETE, "DELETE" },
    { 0, NULL }
};


static const char *
ngx_mam_method_name(ngx_uint_t method)
{
    ngx_uint_t  i;

    for (i = 0; ngx_mam_method_names[i].name; i++) {
        if (ngx_mam_method_names[i].method == method) {
            return ngx_mam_method_names[i].name;
        }
    }

    return "?";
}


/* "/api/assets/:id" against the URI; fills ctx->params on a match */
static ngx_int_t
ngx_mam_route_match(const char *pattern, ngx_str_t *uri, ngx_mam_ctx_t *ctx)
{
    size_t             i, n;
    mam_route_param_t  params[MAM_ROUTE_MAX_PARAMS];

    if (!mam_route_match(pattern, (const char *) uri->data, uri->len, params,
                         &n)
        || n > NGX_MAM_MAX_PARAMS)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < n; i++) {
        ctx->params[i].name.data = (u_char *) params[i].name;
        ctx->params[i].name.len = params[i].name_len;
        ctx->params[i].value.data = (u_char *) params[i].value;
        ctx->params[i].value.len = params[i].value_len;
    }

    ctx->nparams = n;

    return NGX_OK;
}


ngx_str_t *
ngx_mam_param(ngx_mam_ctx_t *ctx, const char *name)
{
    size_t      len;
    ngx_uint_t  i;

    len = ngx_strlen(name);

    for (i = 0; i < ctx->nparams; i++) {
        if (ctx->params[i].name.len == len
            && ngx_strncmp(ctx->params[i].name.data, name, len) == 0)
        {
            return &ctx->params[i].value;
        }
    }

    return NULL;
}


char *
ngx_mam_param_uuid(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const char *name)
{
    ngx_str_t  *v;

    v = ngx_mam_param(ctx, name);
    if (v == NULL || !mam_uuid_valid((char *) v->data, v->len)) {
        return NULL;
    }

    return ngx_mam_cstr(r->pool, v);
}


static ngx_int_t
ngx_mam_router_method_not_allowed(ngx_http_request_t *r, ngx_uint_t allowed)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    p = ngx_pnalloc(r->pool, sizeof("GET, HEAD, POST, PUT, PATCH, DELETE"));
    if (h == NULL || p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = p;

    for (i = 0; ngx_mam_method_names[i].name; i++) {
        if (!(allowed & ngx_mam_method_names[i].method)) {
            continue;
        }

        if (p != h->value.data) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, ngx_mam_method_names[i].name,
                       ngx_strlen(ngx_mam_method_names[i].name));
    }

    h->value.len = p - h->value.data;

    return ngx_mam_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL);
}


static void
ngx_mam_router_body_read(ngx_http_request_t *r)
{
    ngx_int_t       rc;
    const char     *message;
    ngx_mam_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);

    rc = ngx_mam_json_body(r, &ctx->body, &ctx->raw_body, &message);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_mam_send_error(r, rc, message));
        return;
    }

    /* as nginx's proxy does: a client that goes away while the request
     * waits on PostgreSQL, Redis or the thread pool ends it (499), and
     * what it waited on is let go */
    r->read_event_handler = ngx_http_test_reading;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: route \"%s\": body read, handler runs",
                   ctx->route->pattern);

    ngx_mam_router_run_handler(r, ctx);
}


/* the gate let the request through: the route's own handler */
void
ngx_mam_router_run_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ctx->route->handler(r, ctx);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_mam_router_reject(ngx_http_request_t *r, ngx_uint_t status)
{
    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_mam_send_error(r, status, NULL);
}


/* the route of the request (NGX_OK), or NGX_DECLINED with the answer
 * (404, 405) in *answer */
static ngx_int_t
ngx_mam_router_find(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    ngx_int_t *answer)
{
    ngx_uint_t              allowed, method;
    const ngx_mam_route_t  *route;

    method = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_GET : r->method;
    allowed = 0;

    for (route = ngx_mam_routes; route->pattern; route++) {
        if (ngx_mam_route_match(route->pattern, &r->uri, ctx) != NGX_OK) {
            continue;
        }

        allowed |= route->methods;

        if (route->methods & method) {
            ctx->route = route;
            return NGX_OK;
        }
    }

    if (allowed == 0) {
        *answer = ngx_mam_router_reject(r, NGX_HTTP_NOT_FOUND);
        return NGX_DECLINED;
    }

    if (allowed & NGX_HTTP_GET) {
        allowed |= NGX_HTTP_HEAD;
    }

    (void) ngx_http_discard_request_body(r);
    *answer = ngx_mam_router_method_not_allowed(r, allowed);

    return NGX_DECLINED;
}


/*
 * NGX_HTTP_ACCESS_PHASE: the route, then the gate, which ends in
 * ngx_mam_gate_pass() (the phases go on: ngx_http_core_run_phases()) or in
 * the refusal.  Either may come at once or from a Redis or PostgreSQL
 * answer later: the request is held (count) meanwhile, as the body reader
 * holds it, and let go here.
 */
ngx_int_t
ngx_mam_router_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_mam_ctx_t           *ctx;
    ngx_mam_main_conf_t     *mcf;
    ngx_mam_api_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_mam_api_module);
    if (!alcf->api || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);
    if (ctx != NULL) {
        /* the gate resumed the phases */
        return ctx->passed ? NGX_OK : NGX_AGAIN;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_mam_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_mam_module);

    /* no API body may exceed the limit, whatever the route */
    if (r->headers_in.content_length_n > (off_t) mcf->json_body_limit) {
        rc = ngx_mam_router_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    if (ngx_mam_router_find(r, ctx, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mam: route \"%s\" for \"%V\", gate", ctx->route->pattern,
                   &r->uri);

    ctx->access_phase = 1;
    ngx_http_set_ctx(r, ctx, ngx_mam_api_module);

    r->main->count++;

    ngx_mam_auth_gate(r, ctx);

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* the content phase: the gate let the request through, the body now */
ngx_int_t
ngx_mam_router_handler(ngx_http_request_t *r)
{
    ngx_int_t       rc;
    ngx_mam_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_mam_api_module);

    if (ctx == NULL || !ctx->passed) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mam: API request in the content phase without the "
                      "gate's pass");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_read_client_request_body(r, ngx_mam_router_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return ngx_mam_send_error(r, rc, NULL);
    }

    return NGX_DONE;
}


/* --- the api module: mam_api locations ------------------------------------ */

static char *
ngx_mam_api_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mam_api_loc_conf_t    *alcf = conf;
    ngx_mam_main_conf_t       *mcf;
    ngx_http_core_loc_conf_t  *clcf;

    (void) cmd;

    if (alcf->api) {
        return "is duplicate";
    }

    alcf->api = 1;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);
    mcf->api_used = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_mam_router_handler;

    return NGX_CONF_OK;
}


static void *
ngx_mam_api_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_mam_api_loc_conf_t));
}


/* not inherited: an API location is the one that says mam_api */
static char *
ngx_mam_api_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_mam_api_loc_conf_t    *conf = child;
    ngx_mam_main_conf_t       *mcf;
    ngx_http_core_loc_conf_t  *clcf;

    (void) parent;

    if (!conf->api) {
        return NGX_CONF_OK;
    }

    /* JSON bodies up to the limit stay in memory, never in a temp file */
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_body_buffer_size < mcf->json_body_limit) {
        clcf->client_body_buffer_size = mcf->json_body_limit;
    }

    return NGX_CONF_OK;
}


/* the gate runs before the body is read, as auth_request checks */
static ngx_int_t
ngx_mam_api_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_mam_main_conf_t        *mcf;
    ngx_http_core_main_conf_t  *cmcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_mam_module);
    if (!mcf->api_used) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_mam_router_access_handler;

    return NGX_OK;
}


/* location = /_mam_api_error { internal; mam_api_error; } */
static ngx_mam_conf_handler_t  ngx_mam_api_error_location = {
    ngx_mam_api_error_handler
};


static ngx_command_t  ngx_mam_api_commands[] = {

    { ngx_string("mam_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_api_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mam_api_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_mam_conf_set_location_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_mam_api_error_location },

      ngx_null_command
};


static ngx_http_module_t  ngx_mam_api_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_mam_api_postconfiguration,         /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    ngx_mam_api_create_loc_conf,           /* create location configuration */
    ngx_mam_api_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_mam_api_module = {
    NGX_MODULE_V1,
    &ngx_mam_api_module_ctx,               /* module context */
    ngx_mam_api_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};
