/*
 * Webhooks (issue 22): statement routes over the functions of
 * schema/functions/webhooks.sql, and the delivery log, a keyset page.
 * Only a project's managers (and admins) see its webhooks: a member below
 * manager is answered 403, anyone else 404.  The module only registers
 * webhooks and reads their log; webhookd (webhookd/), a process of its
 * own, talks to the targets, never a worker.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_sql.h"


#define NGX_MAM_WEBHOOK_CURSOR_MAX  1024
#define NGX_MAM_WEBHOOK_LOG_LIMIT   50


static const ngx_mam_outcome_t  ngx_mam_webhook_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such webhook or project",
      NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only a manager of the project or an admin may see or change its "
      "webhooks", NULL },
    { MAM_OUTCOME_INVALID, NGX_HTTP_BAD_REQUEST, "invalid webhook", NULL },
    { MAM_OUTCOME_CONFLICT, NGX_HTTP_CONFLICT, "conflict", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* ?project=: required, a UUID */
static const char *
ngx_mam_webhooks_project(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    const char  *message;

    message = ngx_mam_field_query_uuid(r, ctx, f, out);
    if (message == NULL && *out == NULL) {
        return "project: required (?project=ID)";
    }

    return message;
}


/* the url's and the events' shapes are checked in SQL, with the message
 * of the 400 (mam_webhook_url_invalid, mam_webhook_events_norm) */
static const ngx_mam_field_t  ngx_mam_webhook_create_fields[] = {
    { "project_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 1 },
    { "url", ngx_mam_field_text, 10, 2048, 1 },
    { "events", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 16, 1 },
    { "secret", ngx_mam_field_text, 16, 256, 1 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_webhook_update_fields[] = {
    { "url", ngx_mam_field_text, 10, 2048, 0 },
    { "events", ngx_mam_field_json, NGX_MAM_FIELD_JSON_ARRAY, 16, 0 },
    { "secret", ngx_mam_field_text, 16, 256, 0 },
    { "active", ngx_mam_field_flag, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

static const ngx_mam_field_t  ngx_mam_webhook_list_fields[] = {
    { "project", ngx_mam_webhooks_project, 0, 0, 1 },
    { NULL, NULL, 0, 0, 0 }
};


/* GET /api/webhooks?project=ID (managers, admins) */
const ngx_mam_statement_t  ngx_mam_webhook_list = {
    "SELECT mam_webhook_list($1, $2, $3)", 3,
    { NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    ngx_mam_webhook_list_fields, 0, NULL,
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_OK, "items"
};

/* POST /api/webhooks {project_id, url, events, secret}: the only answer
 * that shows the secret */
const ngx_mam_statement_t  ngx_mam_webhook_create = {
    "SELECT mam_webhook_create($1, $2, $3, $4, $5, $6, $7)", 7,
    { NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_FIELD(3),
      NGX_MAM_ARG_IP },
    ngx_mam_webhook_create_fields, 0, NULL,
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_CREATED, "webhook"
};

/* GET /api/webhooks/:id */
const ngx_mam_statement_t  ngx_mam_webhook_get = {
    "SELECT mam_webhook_get($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_OK, "webhook"
};

/* PATCH /api/webhooks/:id {url?, events?, secret?, active?} */
const ngx_mam_statement_t  ngx_mam_webhook_update = {
    "SELECT mam_webhook_update($1, $2, $3, $4, $5, $6, $7, $8)", 8,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0), NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2),
      NGX_MAM_ARG_FIELD(3), NGX_MAM_ARG_IP },
    ngx_mam_webhook_update_fields, NGX_MAM_STATEMENT_ANY_FIELD,
    "url, events, secret or active: required",
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_OK, "webhook"
};

/* DELETE /api/webhooks/:id: its delivery log goes too */
const ngx_mam_statement_t  ngx_mam_webhook_delete = {
    "SELECT mam_webhook_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_NO_CONTENT, NULL
};

/* POST /api/webhooks/:id/test → 202 {delivery}: webhookd sends it */
const ngx_mam_statement_t  ngx_mam_webhook_test = {
    "SELECT mam_webhook_test($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    NULL, ngx_mam_webhook_outcomes, NGX_HTTP_ACCEPTED, "delivery"
};


/* --- GET /api/webhooks/:id/deliveries ------------------------------------ */

/*
 * The delivery log, newest first, a keyset page by id (limit 1..100,
 * default 50).  The cursor is the asset list's, scope "webhook:" and the
 * webhook's id, so it serves no other list.  Row 0's first column is the
 * caller's rank in the webhook's project (no row: no such webhook).
 */

typedef struct {
    ngx_str_t     scope;
    ngx_uint_t    limit;
} ngx_mam_webhook_page_t;


static void
ngx_mam_webhooks_logged(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                      n;
    ngx_str_t                key = ngx_null_string;
    ngx_mam_webhook_page_t  *pg = data;

    if (!ngx_mam_pg_ok(res)
        || PQnfields(res) != NGX_MAM_SQL_WEBHOOK_LOG_NCOLS)
    {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    n = PQntuples(res);
    if (n == 0 || ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                           PQgetlength(res, 0, 0)) == 0)
    {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such webhook");
        return;
    }

    if (ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0))
        < 4)
    {
        ngx_mam_fail(r, NGX_HTTP_FORBIDDEN, "only a manager of the project "
                     "or an admin may see its webhooks");
        return;
    }

    /* one row of NULLs: an empty log */
    if (n == 1 && PQgetisnull(res, 0, 1)) {
        n = 0;
    }

    ngx_mam_list_send(r, res, 1, n, pg->limit, &pg->scope, &key);
}


ngx_int_t
ngx_mam_webhooks_log_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_str_t                v;
    char                    *after, *after_id;
    const char             **values;
    ngx_mam_webhook_page_t  *pg;

    values = ngx_pcalloc(r->pool, 5 * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_webhook_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_param_uuid(r, ctx, "id");
    if (values[0] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (ngx_mam_list_limit_or(r, NGX_MAM_WEBHOOK_LOG_LIMIT, &pg->limit)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "limit: must be 1..100");
    }

    pg->scope.data = (u_char *) ngx_mam_message(r->pool, "webhook:%s",
                                                values[0]);
    if (pg->scope.data == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    pg->scope.len = ngx_strlen(pg->scope.data);

    /* the first page starts after every id */
    values[3] = "9223372036854775807";

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_WEBHOOK_CURSOR_MAX, &v);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && (ngx_mam_cursor_parse(r, &v, &pg->scope, &after_id, &after)
                != NGX_OK
                || mam_uuid_valid(after_id, ngx_strlen(after_id)))))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "cursor: not a cursor this server issued "
                                  "for this webhook's deliveries");
    }

    if (rc == NGX_OK) {
        values[3] = after_id;
    }

    values[1] = ctx->user.sub;
    values[2] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[4] = ngx_mam_message(r->pool, "%ui", pg->limit + 1);
    if (values[4] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_mam_pg_query(r, NGX_MAM_SQL_WEBHOOK_LOG, 5, values,
                         ngx_mam_webhooks_logged, pg)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
