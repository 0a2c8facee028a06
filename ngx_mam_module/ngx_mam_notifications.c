/*
 * Notifications and @mentions (issue 21): GET /api/notifications (the
 * caller's, newest first, a keyset page at a time, with the unread
 * count), POST /api/notifications/:id/read, POST
 * /api/notifications/read-all, and GET /api/projects/:id/members?q= (the
 * members a comment box completes an @ with).
 *
 * The notifications are written by the SQL functions of the acts they tell
 * of (schema/functions/notifications.sql), which answer them as "notify":
 * {project_id, to: [{user_id, notification}]}.  Once such a statement
 * has answered (it has committed), ngx_mam_notify_publish() PUBLISHes
 * that on mam:notify, and each worker's event subscriber hands every
 * notification to its recipient's own open streams (ngx_mam_events.c).
 * A lost PUBLISH (Redis down) loses the live delivery only: the
 * notification is in PostgreSQL and the next list shows it.
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_preview.h"
#include "mam_body.h"


#define NGX_MAM_NOTIFY_CURSOR_MAX  1024
#define NGX_MAM_MEMBER_Q_MAX       100     /* a display name's length */


typedef struct {
    ngx_uint_t    limit;
} ngx_mam_notify_page_t;


static ngx_str_t  ngx_mam_notify_scope = ngx_string("notifications");


/* the "notify" of a SQL function's answer, on mam:notify (nothing when
 * nobody was notified) */
void
ngx_mam_notify_publish(ngx_http_request_t *r, json_t *v)
{
    ngx_mam_publish(r, MAM_CHANNEL_NOTIFY, json_object_get(v, "notify"));
}


/* --- GET /api/notifications ------------------------------------------------ */

static void
ngx_mam_notify_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                     n;
    u_char                  unread[NGX_INT_T_LEN + sizeof(",\"unread\":")];
    ngx_int_t               count;
    ngx_str_t               key, extra;
    ngx_mam_notify_page_t  *pg = data;

    ngx_str_null(&key);

    if (!ngx_mam_pg_ok(res)
        || PQnfields(res) != NGX_MAM_SQL_NOTIFICATION_NCOLS
        || PQntuples(res) < 1)
    {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    /* an empty page: one row with the count and NULLs */
    n = PQntuples(res);
    if (n == 1 && PQgetisnull(res, 0, 1)) {
        n = 0;
    }

    if ((ngx_uint_t) n > pg->limit) {
        key.data = ngx_pnalloc(r->pool, NGX_MAM_ROW_TIME_LEN);
        if (key.data == NULL) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }

        key.len = ngx_mam_row_time(key.data, PQgetvalue(res, pg->limit - 1, 3),
                                   PQgetlength(res, pg->limit - 1, 3), 6);
        if (key.len == 0) {
            ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
    }

    /* PostgreSQL's count(*), at most NGX_MAM_SQL_UNREAD_MAX */
    count = ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                     PQgetlength(res, 0, 0));
    if (count == NGX_ERROR) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    extra.data = unread;
    extra.len = ngx_sprintf(unread, ",\"unread\":%i", count) - unread;

    if ((ngx_uint_t) n > pg->limit) {
        ngx_mam_list_answer_with(r, res, 1, pg->limit, pg->limit - 1,
                                 &ngx_mam_notify_scope, &key, &extra);
        return;
    }

    ngx_mam_list_answer_with(r, res, 1, n, -1, &ngx_mam_notify_scope, &key,
                             &extra);
}


/* unread: 1 or true (only the unread), 0 or false or absent (all) */
static const char *
ngx_mam_notify_unread(ngx_http_request_t *r, ngx_uint_t *unread)
{
    ngx_int_t  rc;
    ngx_str_t  v;

    *unread = 0;

    rc = ngx_mam_list_arg(r, "unread", 8, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    if (rc == NGX_OK) {
        if ((v.len == 1 && v.data[0] == '1')
            || (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0))
        {
            *unread = 1;
            return NULL;
        }

        if ((v.len == 1 && v.data[0] == '0')
            || (v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0))
        {
            return NULL;
        }
    }

    return "unread: must be 1 or 0";
}


/* the cursor: the time and id of the last row of the page before */
static const char *
ngx_mam_notify_cursor(ngx_http_request_t *r, const char **values)
{
    char       *id, *at;
    ngx_int_t   rc;
    ngx_str_t   v;

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_NOTIFY_CURSOR_MAX, &v);
    if (rc == NGX_DECLINED) {
        return NULL;
    }

    if (rc != NGX_OK
        || ngx_mam_cursor_parse(r, &v, &ngx_mam_notify_scope, &id, &at)
           != NGX_OK
        || !mam_uuid_valid(id, ngx_strlen(id))
        || ngx_strlen(at) != NGX_MAM_ROW_TIME_LEN - 1)
    {
        return "cursor: not a cursor this server issued for the "
               "notifications";
    }

    values[3] = at;
    values[4] = id;

    return NULL;
}


ngx_int_t
ngx_mam_notifications_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    ngx_uint_t              unread;
    const char             *message, **values;
    ngx_mam_notify_page_t  *pg;

    values = ngx_pcalloc(r->pool, 5 * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_notify_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    if (ngx_mam_list_limit(r, &pg->limit) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "limit: must be 1..100");
    }

    values[0] = ctx->user.sub;
    values[1] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[2] = ngx_mam_message(r->pool, "%ui", pg->limit + 1);
    values[3] = "infinity";
    values[4] = "ffffffff-ffff-ffff-ffff-ffffffffffff";

    if ((message = ngx_mam_notify_unread(r, &unread))
        || (message = ngx_mam_notify_cursor(r, values)))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST, message);
    }

    if (values[2] == NULL
        || ngx_mam_pg_query(r, unread ? NGX_MAM_SQL_NOTIFICATION_UNREAD
                                      : NGX_MAM_SQL_NOTIFICATION_ALL,
                            5, values, ngx_mam_notify_listed, pg)
           != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}


/* --- read, read-all, members --------------------------------------------- */

static const ngx_mam_outcome_t  ngx_mam_notify_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such notification",
      NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

/* POST /api/notifications/:id/read → 200 {notification}: the caller's
 * own (anyone else's is 404, as one of an asset they no longer see) */
const ngx_mam_statement_t  ngx_mam_notification_read = {
    "SELECT mam_notification_read($1, $2, $3)", 3,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN },
    NULL, 0, NULL,
    NULL, ngx_mam_notify_outcomes,
    NGX_HTTP_OK, "notification"
};

/* POST /api/notifications/read-all → 200 {marked} */
const ngx_mam_statement_t  ngx_mam_notifications_read_all = {
    "SELECT mam_notifications_read_all($1)", 1,
    { NGX_MAM_ARG_USER },
    NULL, 0, NULL,
    NULL, ngx_mam_notify_outcomes,
    NGX_HTTP_OK, "marked"
};


/* q: what the user typed after "@", 0..100 characters (ngx_mam_list_arg
 * refuses control characters; the SQL function compares in lower case) */
static const char *
ngx_mam_member_q(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    ngx_int_t   rc;
    ngx_str_t   v;

    (void) ctx;

    rc = ngx_mam_list_arg(r, f->name, 4 * NGX_MAM_MEMBER_Q_MAX, &v);
    if (rc == NGX_DECLINED) {
        *out = "";
        return NULL;
    }

    if (rc != NGX_OK
        || mam_utf8_chars((char *) v.data, v.len) > NGX_MAM_MEMBER_Q_MAX)
    {
        return "q: must be at most 100 characters";
    }

    *out = ngx_mam_cstr(r->pool, &v);

    return *out ? NULL : "out of memory";
}


static const ngx_mam_outcome_t  ngx_mam_member_find_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such project", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_field_t  ngx_mam_member_find_fields[] = {
    { "q", ngx_mam_member_q, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

/* GET /api/projects/:id/members?q= → 200 {items: [{id, display_name}]}:
 * the first 10 members whose name or a word of it begins with q */
const ngx_mam_statement_t  ngx_mam_member_find = {
    "SELECT mam_member_find($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN,
      NGX_MAM_ARG_FIELD(0) },
    ngx_mam_member_find_fields, 0, NULL,
    NULL, ngx_mam_member_find_outcomes,
    NGX_HTTP_OK, "items"
};
