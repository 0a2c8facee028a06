/*
 * Time-coded comments: list (ordered by timestamp_sec, then created_at, a
 * page at a time), create (any signed-in user, viewers included), delete
 * (author or admin).  Each change is published on mam:previews (the
 * asset's event streams: {asset_id, comment: {id, version_id, action}}).
 */

#include "ngx_mam_pg.h"
#include "ngx_mam_preview.h"
#include "mam_body.h"


#define NGX_MAM_COMMENT_MAX      4000
#define NGX_MAM_TIMESTAMP_MAX    999999999.0   /* numeric(12, 3) */
#define NGX_MAM_FRAME_MAX        999999999     /* comments_frame_range */
#define NGX_MAM_CURSOR_MAX       1024


static ngx_uint_t
ngx_mam_comments_space(u_char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


/* content: text of 1..4000 characters after trimming; line breaks and tabs
 * are the only control characters allowed */
static const char *
ngx_mam_comments_content(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char     *p, *start, *end;
    json_t     *v;
    ngx_str_t   s;
    size_t      n;

    v = json_object_get(ctx->body, f->name);
    if (!json_is_string(v)) {
        return "content: must be a string of 1..4000 characters";
    }

    start = (u_char *) json_string_value(v);
    end = start + json_string_length(v);

    for (p = start; p < end; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
            || *p == 0x7f)
        {
            return "content: must not contain control characters";
        }
    }

    while (start < end && ngx_mam_comments_space(*start)) {
        start++;
    }
    while (end > start && ngx_mam_comments_space(end[-1])) {
        end--;
    }

    n = mam_utf8_chars((char *) start, end - start);
    if (n < 1 || n > NGX_MAM_COMMENT_MAX) {
        return "content: must be 1..4000 characters";
    }

    s.data = start;
    s.len = end - start;
    *out = ngx_mam_cstr(r->pool, &s);

    return *out ? NULL : "out of memory";
}


/* timestamp_sec: seconds, 0 or more, to the millisecond of the column */
static const char *
ngx_mam_comments_timestamp(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char  *ts;
    json_t  *t;
    double   sec;

    t = json_object_get(ctx->body, f->name);
    sec = json_is_number(t) ? json_number_value(t) : -1;

    if (sec < 0 || sec > NGX_MAM_TIMESTAMP_MAX) {
        return "timestamp_sec: must be a number of seconds, 0 or more";
    }

    ts = ngx_pnalloc(r->pool, 32);
    if (ts == NULL) {
        return "out of memory";
    }

    *ngx_sprintf(ts, "%.3f", sec) = '\0';
    *out = (char *) ts;

    return NULL;
}


/* frame (issue 20): optional, a JSON integer 0..999999999, the frame the
 * reviewer saw; absent or null stores none (the server derives none) */
static const char *
ngx_mam_comments_frame(ngx_http_request_t *r, ngx_mam_ctx_t *ctx,
    const ngx_mam_field_t *f, const char **out)
{
    u_char      *p;
    json_t      *v;
    json_int_t   n;

    v = json_object_get(ctx->body, f->name);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }

    /* a real (2.0), a string or a boolean is refused, not converted */
    n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (n < 0 || n > NGX_MAM_FRAME_MAX) {
        return "frame: must be an integer from 0 to 999999999";
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return "out of memory";
    }

    *ngx_sprintf(p, "%L", (int64_t) n) = '\0';
    *out = (const char *) p;

    return NULL;
}


/* what the comment functions answer besides "ok" */
static const ngx_mam_outcome_t  ngx_mam_comment_create_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such asset", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "a viewer of the project may not comment", NULL },
    { MAM_OUTCOME_BAD_VERSION, NGX_HTTP_BAD_REQUEST,
      "version_id: not a version of this asset", NULL },
    { MAM_OUTCOME_BEYOND, NGX_HTTP_BAD_REQUEST,
      "timestamp_sec: must be at most the duration (%.3f s)",
      "duration_sec" },
    { MAM_OUTCOME_BAD_FRAME, NGX_HTTP_BAD_REQUEST,
      "frame: must be within one frame of timestamp_sec at the version's "
      "frame rate (%.3f)", "frame_rate" },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};

static const ngx_mam_outcome_t  ngx_mam_comment_delete_outcomes[] = {
    { MAM_OUTCOME_NOT_FOUND, NGX_HTTP_NOT_FOUND, "no such comment", NULL },
    { MAM_OUTCOME_FORBIDDEN, NGX_HTTP_FORBIDDEN,
      "only the author, a manager of the project or an admin may delete "
      "a comment", NULL },
    { MAM_OUTCOME_NONE, 0, NULL, NULL }
};


/* a comment created or deleted: its event published, then the answer of
 * the statement (data) */
static void
ngx_mam_comments_changed(ngx_http_request_t *r, PGresult *res, void *data)
{
    json_t                     *v, *body;
    const ngx_mam_statement_t  *st = data;

    v = ngx_mam_outcome_ok(r, res, st->outcomes);
    if (v == NULL) {
        return;
    }

    ngx_mam_preview_publish(r, json_object_get(v, "event"));

    if (st->name == NULL) {
        ngx_http_finalize_request(r, ngx_mam_send_no_content(r));
        return;
    }

    body = json_pack("{s:O}", st->name, json_object_get(v, st->name));
    if (body == NULL || ngx_mam_json_cleanup_add(r->pool, body) != NGX_OK) {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_mam_send_json(r, st->status, body));
}


/* POST /api/assets/:id/comments: any signed-in user, viewers included */
static const ngx_mam_field_t  ngx_mam_comment_fields[] = {
    { "timestamp_sec", ngx_mam_comments_timestamp, 0, 0, 1 },
    { "content", ngx_mam_comments_content, 0, 0, 1 },
    { "version_id", ngx_mam_field_uuid, 1, MAM_UUID_LEN, 0 },
    { "frame", ngx_mam_comments_frame, 0, 0, 0 },
    { NULL, NULL, 0, 0, 0 }
};

const ngx_mam_statement_t  ngx_mam_comment_create = {
    "SELECT mam_comment_create($1, $2, $3, $4, $5, $6, $7, $8)", 8,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_FIELD(0),
      NGX_MAM_ARG_FIELD(1), NGX_MAM_ARG_FIELD(2), NGX_MAM_ARG_IP,
      NGX_MAM_ARG_FIELD(3) },
    ngx_mam_comment_fields, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_create_outcomes,
    NGX_HTTP_CREATED, "comment"
};

/* DELETE /api/comments/:id: the author, a manager of the asset's project
 * or an admin */
const ngx_mam_statement_t  ngx_mam_comment_delete = {
    "SELECT mam_comment_delete($1, $2, $3, $4)", 4,
    { NGX_MAM_ARG_ID, NGX_MAM_ARG_USER, NGX_MAM_ARG_ADMIN, NGX_MAM_ARG_IP },
    NULL, 0, NULL,
    ngx_mam_comments_changed, ngx_mam_comment_delete_outcomes,
    NGX_HTTP_NO_CONTENT, NULL
};


/* --- GET /api/assets/:id/comments ---------------------------------------- */

/*
 * A page at a time in keyset order (timestamp_sec, created_at, id), limit
 * and cursor as for assets; a cursor's scope is "comments:" and the asset's
 * id, so it serves no other asset and no asset list.
 */

typedef struct {
    ngx_str_t     scope;
    ngx_uint_t    limit;
} ngx_mam_comments_page_t;


/* the cursor key of a page's row: "timestamp_sec created_at", the two sort
 * values before the id, created_at to the microsecond */
static ngx_int_t
ngx_mam_comments_key(ngx_http_request_t *r, PGresult *res, int row,
    ngx_str_t *key)
{
    size_t  n, len;

    len = PQgetlength(res, row, 2);
    if (len > 31) {
        return NGX_ERROR;
    }

    key->data = ngx_pnalloc(r->pool, len + 1 + NGX_MAM_ROW_TIME_LEN);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key->data, PQgetvalue(res, row, 2), len);
    key->data[len++] = ' ';
    n = ngx_mam_row_time(key->data + len, PQgetvalue(res, row, 3),
                         PQgetlength(res, row, 3), 6);
    key->len = len + n;

    return n ? NGX_OK : NGX_ERROR;
}


static void
ngx_mam_comments_listed(ngx_http_request_t *r, PGresult *res, void *data)
{
    int                       n;
    ngx_str_t                 key;
    ngx_mam_comments_page_t  *pg = data;

    if (!ngx_mam_pg_ok(res) || PQnfields(res) != NGX_MAM_SQL_COMMENT_NCOLS) {
        ngx_mam_pg_fail_request(r, res);
        return;
    }

    /* no row: no such asset; one row of NULLs: no comment */
    n = PQntuples(res);
    if (n == 0) {
        ngx_mam_fail(r, NGX_HTTP_NOT_FOUND, "no such asset");
        return;
    }

    if (n == 1 && PQgetisnull(res, 0, 0)) {
        n = 0;
    }

    if ((ngx_uint_t) n > pg->limit
        && ngx_mam_comments_key(r, res, pg->limit - 1, &key) != NGX_OK)
    {
        ngx_mam_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_mam_list_send(r, res, 0, n, pg->limit, &pg->scope, &key);
}


ngx_int_t
ngx_mam_comments_list_handler(ngx_http_request_t *r, ngx_mam_ctx_t *ctx)
{
    u_char                   *space;
    ngx_int_t                 rc;
    ngx_str_t                 v;
    char                     *after, *after_id;
    const char              **values;
    ngx_mam_comments_page_t  *pg;

    values = ngx_pcalloc(r->pool, 7 * sizeof(char *));
    pg = ngx_pcalloc(r->pool, sizeof(ngx_mam_comments_page_t));
    if (values == NULL || pg == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    values[0] = ngx_mam_param_uuid(r, ctx, "id");
    if (values[0] == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "id: must be a UUID");
    }

    if (ngx_mam_list_limit(r, &pg->limit) != NGX_OK) {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "limit: must be 1..100");
    }

    pg->scope.data = (u_char *) ngx_mam_message(r->pool, "comments:%s",
                                                values[0]);
    if (pg->scope.data == NULL) {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    pg->scope.len = ngx_strlen(pg->scope.data);

    rc = ngx_mam_list_arg(r, "cursor", NGX_MAM_CURSOR_MAX, &v);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_mam_cursor_parse(r, &v, &pg->scope, &after_id, &after)
               != NGX_OK))
    {
        return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "cursor: not a cursor this server issued "
                                  "for this asset's comments");
    }

    /* the first page starts before every comment */
    values[1] = ngx_mam_message(r->pool, "%ui", pg->limit + 1);
    values[2] = "-1";
    values[3] = "-infinity";
    values[4] = "00000000-0000-0000-0000-000000000000";

    if (rc == NGX_OK) {
        /* the key: "timestamp_sec created_at" */
        space = ngx_strlchr((u_char *) after,
                            (u_char *) after + ngx_strlen(after), ' ');
        if (space == NULL) {
            return ngx_mam_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "cursor: not a comment cursor");
        }

        *space = '\0';
        values[2] = after;
        values[3] = (char *) space + 1;
        values[4] = after_id;
    }

    /* the asset only for whom may see it */
    values[5] = ngx_mam_has_role(ctx, MAM_ROLE_ADMIN) ? "true" : "false";
    values[6] = ctx->user.sub;

    if (ngx_mam_pg_query(r, NGX_MAM_SQL_COMMENT_PAGE, 7, values,
                         ngx_mam_comments_listed, pg)
        != NGX_OK)
    {
        return ngx_mam_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    return NGX_DONE;
}
